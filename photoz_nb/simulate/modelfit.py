"""SDSS's model magnitudes measured on a simulated stamp, as SDSS's photo measures them.

photo fits a PSF-convolved de Vaucouleurs and an exponential profile (free r_e, b/a and position
angle; flux linear) to the r image, keeps the better fit (chi^2), and measures every band's model
flux with that r shape (Stoughton et al. 2002, s. 4.4.5.2): model colours are colours of the r
profile's weighting, not of the galaxy's total light.  Both profiles are truncated (deV smoothly to
zero between 7 and 8 r_e, exp between 3 and 4 r_e), so a model flux is TRUNCATED_TOTAL of the
untruncated profile's.  The catalogue of a build measures each galaxy with its own bulge + disk
instead (:func:`photoz_nb.simulate.photometry.measure_galaxy`: one render, not a fit); this module
is the slow, faithful measurement that calibration and validation compare the real catalogue with.
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import least_squares

from .. import config
from . import photometry, render

BANDS = config.BANDS
R = BANDS.index("r")
#: Fraction of an untruncated profile's flux that SDSS's truncated model holds (numerical integral).
TRUNCATED_TOTAL = {"devaucouleurs": 0.937, "exponential": 0.981}


def _start(child: np.ndarray, centre, hlr: float) -> list[float]:
    """(ln r_e, logit b/a, position angle) from the child's second moments within 3 r_e."""
    yy, xx = np.mgrid[:config.STAMP, :config.STAMP]
    dx, dy = xx - centre[0], yy - centre[1]
    w = (np.hypot(dx, dy) < max(3 * hlr, 6)) * np.clip(child, 0, None)
    ixx, iyy, ixy = (w * dx * dx).sum(), (w * dy * dy).sum(), (w * dx * dy).sum()
    small, large = np.linalg.eigvalsh([[ixx, ixy], [ixy, iyy]])
    q = float(np.clip(np.sqrt(max(small, 1e-9) / large), 0.1, 0.95))
    return [float(np.clip(np.log(hlr), np.log(0.4), np.log(25))), np.log(q / (1 - q)),
            0.5 * float(np.arctan2(2 * ixy, ixx - iyy))]


def _shape(profile: str, p, params: dict, i: int, bands=BANDS) -> np.ndarray:
    """Unit-flux images (len(bands), 64, 64) of one profile with shape ``p`` through row ``i``'s PSFs."""
    c = render.Component(profile, np.ones(len(bands)), float(np.exp(p[0])), float(1 / (1 + np.exp(-p[1]))),
                         float(p[2]), float(params["dx"][i]), float(params["dy"][i]))
    psf = [params["psf"][i][BANDS.index(b)] for b in bands]
    return render.render_stamp([c], psf, bands=tuple(bands), wing_scale=params["psf_wing_scale"][i])


def child_and_weights(image: np.ndarray, rendered: photometry.Rendered, params: dict, i: int):
    """Row ``i``'s deblended child (n_bands, 64, 64) and each pixel's inverse noise (sky and photons); a
    pixel the deblender gives wholly to a neighbour carries no noise and no light of the galaxy: weight 0."""
    clean = rendered.stamp
    weight = photometry.deblend_weight(clean, rendered, params, i)
    w = np.ones_like(clean) if weight is None else weight
    variance = (params["noise_native"][i][:, None, None] ** 2 * w * w
                + np.maximum(clean * w * w, 0) / params["electrons_per_nmgy"][i][:, None, None])
    inverse = np.divide(1.0, np.sqrt(variance), out=np.zeros_like(variance), where=variance > 0)
    return image * w, inverse


def fit_r_shape(child_r: np.ndarray, inverse_r: np.ndarray, params: dict, i: int) -> tuple[str, np.ndarray]:
    """(profile, shape) of the better of the de Vaucouleurs and exponential fits to the r child, each pixel
    weighted by its inverse noise ``inverse_r``."""
    centre = photometry.centre(params, i)
    y = (child_r * inverse_r).ravel()
    fits = []
    for profile in TRUNCATED_TOTAL:
        def residual(p):
            t = (_shape(profile, p, params, i, ("r",))[0] * inverse_r).ravel()
            return y - (t @ y) / (t @ t) * t
        guess = params["hlr_bulge" if profile == "devaucouleurs" else "hlr_disk"][i]
        # diff_step: the float32 render does not register least_squares' default steps (~1e-8): the
        # axis ratio and angle would keep their starting values
        sol = least_squares(residual, _start(child_r, centre, max(guess, 0.5)), x_scale=[0.3, 1, 0.5],
                            diff_step=1e-3, max_nfev=200, bounds=([np.log(0.3), -4, -10], [np.log(30), 6, 10]))
        fits.append((sol.cost, profile, sol.x))
    _, profile, shape = min(fits, key=lambda f: f[0])
    return profile, shape


def sdss_model_fluxes(image: np.ndarray, rendered: photometry.Rendered, params: dict, i: int) -> np.ndarray:
    """SDSS model fluxes (n_bands,) of row ``i`` on its stamp ``image`` (n_bands, 64, 64): the r fit's
    shape, convolved with each band's PSF, fitted in amplitude to each band's deblended child."""
    child, inverse = child_and_weights(image, rendered, params, i)
    profile, shape = fit_r_shape(child[R], inverse[R], params, i)
    t = _shape(profile, shape, params, i) * inverse
    y = child * inverse
    amplitude = np.einsum("bij,bij->b", t, y) / np.einsum("bij,bij->b", t, t)
    return amplitude * TRUNCATED_TOTAL[profile]
