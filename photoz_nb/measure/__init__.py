"""Measurements applied alike to simulated stamps and real SDSS pixels.

* :mod:`.detect`: the one source segmentation, the source mask and the sky noise;
* :mod:`.psf`: Moffat and core + wing PSF fits, the effective FWHM;
* :mod:`.growth`: the Petrosian curve of growth (flux, r50, r90, concentration, b/a);
* :mod:`.photometry`: windowed centroids, aperture fluxes and concentration of sources in frames.

Each is one function for simulated and real data, so any difference it shows is the simulation's.
"""
from .detect import detect_sources, segment, sky_noise, source_mask
from .growth import axis_ratio, curve_of_growth
from .photometry import aperture_flux, concentration, windowed_centroid
from .psf import PSF_WING_BETA, core_wing_image, effective_fwhm, fit_fwhm, fit_psf_wing, moffat_alpha, moffat_image

__all__ = ["PSF_WING_BETA", "aperture_flux", "axis_ratio", "concentration", "core_wing_image", "curve_of_growth",
           "detect_sources", "effective_fwhm", "fit_fwhm", "fit_psf_wing", "moffat_alpha", "moffat_image", "segment",
           "sky_noise", "source_mask", "windowed_centroid"]
