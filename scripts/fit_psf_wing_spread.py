"""Re-derive observe.FIELD_PSF_WING_SIGMA: how much the PSF's shape, not only its width, varies between fields.

Developer-only (reads ../shared): run from the project root,

    python scripts/fit_psf_wing_spread.py [photoField.fits]

1. The survey's spread: photo's own PSF model of every good field of run 2583 camcol 2 (photoField
   PSF_SIGMA1, PSF_SIGMA2, PSF_B, PSF_P0, PSF_BETA, PSF_SIGMAP: two Gaussians and a power law, in
   native pixels) is drawn on a 64x64 stamp and its r90/r50 measured by the realism report's
   curve of growth; the robust scatter of ln(r90/r50) over the fields is the field-to-field spread of
   the PSF's concentration (one night: the four real fields' stars, 2.17-2.23 in r, spread no more).
2. The simulator's response: point sources through the simulator's PSF at the survey's FWHMs and
   random sub-pixel centres, with the wing fraction scaled by 1/sqrt(2) and sqrt(2): the slope
   d ln(r90/r50) / d ln(wing scale), and the spread the simulator has without any shape variation
   (pixel phase and FWHM).
3. FIELD_PSF_WING_SIGMA = sqrt(spread_survey^2 - spread_fixed_shape^2) / slope, for r (the band
   whose stars the report tests), printed with the other bands' spreads.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from astropy.io import fits

from photoz_nb import config, paths
from photoz_nb.measure import curve_of_growth
from photoz_nb.simulate import observe, render
from photoz_nb.stats import sigma_mad
from photoz_nb.validation.psf import point_source

OVERSAMPLE = 5
N_POINT_SOURCES = 200


def sdss_psf_image(sigma1, sigma2, b, p0, beta, sigma_p, stamp: int = config.STAMP) -> np.ndarray:
    """photo's PSF model (psField / photoField parameters, native pixels) integrated over the pixels of a stamp."""
    centres = (np.arange(stamp * OVERSAMPLE) + 0.5) / OVERSAMPLE - stamp / 2
    r2 = centres[:, None] ** 2 + centres[None, :] ** 2
    image = (np.exp(-r2 / (2 * sigma1 ** 2)) + b * np.exp(-r2 / (2 * sigma2 ** 2))
             + p0 * (1 + r2 / (beta * sigma_p ** 2)) ** (-beta / 2))
    return image.reshape(stamp, OVERSAMPLE, stamp, OVERSAMPLE).sum(axis=(1, 3))


def survey_concentration(path) -> dict:
    """band -> r90/r50 of photo's PSF model of every good field of the photoField table."""
    t = fits.getdata(path, 1)
    good = np.flatnonzero(np.asarray(t["QUALITY"]) == 3)
    names = ("PSF_SIGMA1", "PSF_SIGMA2", "PSF_B", "PSF_P0", "PSF_BETA", "PSF_SIGMAP")
    return {b: np.array([curve_of_growth(sdss_psf_image(*(float(t[n][i][j]) for n in names)))["concentration"]
                         for i in good]) for j, b in enumerate(config.BANDS)}


def simulated_concentration(wing_scale: float, band: str = "r", seed: int = 0) -> np.ndarray:
    """r90/r50 of point sources through the simulator's PSF in ``band`` at the survey's FWHMs."""
    rng = np.random.default_rng(seed)
    fields = observe.draw_fields(rng, N_POINT_SOURCES)
    fwhm = fields["psf"][:, config.BANDS.index(band)] / config.PIXEL_SCALE
    offsets = rng.uniform(-0.5, 0.5, (N_POINT_SOURCES, 2))
    return np.array([curve_of_growth(point_source([w], dx, dy, stamp=config.STAMP, bands=band,
                                                  wing_scale=wing_scale)[0])["concentration"]
                     for w, (dx, dy) in zip(fwhm, offsets)])


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    path = Path(argv[0]) if argv else paths.shared_dir() / "sdss_frames" / "photoField-002583-2.fits"
    survey = survey_concentration(path)
    for b, c in survey.items():
        print(f"# {b}: photo's PSF model over {len(c)} good fields: median r90/r50 {np.median(c):.3f}, "
              f"robust sigma of ln(r90/r50) {sigma_mad(np.log(c)):.4f}")
    low, high = (np.log(simulated_concentration(s)) for s in (2 ** -0.5, 2 ** 0.5))
    slope = (np.median(high) - np.median(low)) / np.log(2)
    fixed = sigma_mad(np.log(simulated_concentration(1.0)))
    target = sigma_mad(np.log(survey["r"]))
    print(f"# simulator, r: d ln(r90/r50) / d ln(wing scale) = {slope:.4f}; spread at a fixed shape {fixed:.4f}")
    print(f"FIELD_PSF_WING_SIGMA = {np.sqrt(max(target ** 2 - fixed ** 2, 0.0)) / slope:.3f}")


if __name__ == "__main__":
    main()
