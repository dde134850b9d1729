"""Spectral energy distributions of the real galaxies (kcorrect) and distances (Planck18).

kcorrect fits each galaxy's ugriz fluxes with five templates; the fit lets us move a
galaxy to another redshift (its K-correction changes) and compute the absolute magnitude
that sets its size.  The ``KcorrectSDSS`` object takes ~3 s to build and the real sample's fit
~1 s, so both are pickled under ``data/cache/`` and reloaded in milliseconds.
"""
from __future__ import annotations

import functools
import hashlib
import os
import pickle
import tempfile
import warnings

import numpy as np

from .. import config

KCORRECT_ZRANGE, KCORRECT_NZ = (0.0, 1.0), 500
#: Flux calibration floor added in quadrature to the catalogue errors before fitting.
CALIBRATION_FLOOR = 0.02
#: Band shift of the absolute magnitudes (^{0.1}r, as in Shen et al. 2003).
BAND_SHIFT = 0.1


def cache_dir():
    return config.data_root() / "cache"


def _pickled(path, build):
    """``build()``, pickled at ``path`` and reloaded from there next time (written atomically; an
    unreadable file is rebuilt, not fatal)."""
    if path.exists():
        try:
            with open(path, "rb") as f:
                return pickle.load(f)
        except Exception as err:
            warnings.warn(f"{path}: unreadable cache ({err}); rebuilding it")
    value = build()
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as f:
        pickle.dump(value, f)
    os.chmod(f.name, 0o644)
    os.replace(f.name, path)
    return value


def model_name() -> str:
    """The kcorrect model's name: its redshift grid and kcorrect's version."""
    import importlib.metadata
    return f"kcorrect_sdss_z0-1_n{KCORRECT_NZ}_v{importlib.metadata.version('kcorrect')}"


@functools.lru_cache(maxsize=1)
def kcorrect_model():
    """The SDSS ugriz kcorrect model on z in [0, 1] (500 steps), cached on disk."""
    import kcorrect.kcorrect  # lazy: importing kcorrect takes ~4 s; the cached model and distances need none of it

    def build():
        return kcorrect.kcorrect.KcorrectSDSS(redshift_range=list(KCORRECT_ZRANGE), nredshift=KCORRECT_NZ)
    return _pickled(cache_dir() / f"{model_name()}.pkl", build)


def fit_coeffs(z: np.ndarray, flux: np.ndarray, flux_ivar: np.ndarray, cache: bool = False) -> np.ndarray:
    """Template coefficients for dereddened fluxes in nanomaggies (ivar in nanomaggies^-2).

    ``cache``: keep the result on disk under the sha256 of the fit's exact inputs (kcorrect's
    non-negative fits take ~0.1 ms per galaxy: a second for the real sample every build starts from).
    """
    z = np.asarray(z, dtype=np.float32)
    lo, hi = KCORRECT_ZRANGE
    if ((z <= lo) | (z >= hi)).any():  # kcorrect would silently return zeros
        raise ValueError(f"fit_coeffs: redshifts must lie in ({lo}, {hi}), got range [{z.min()}, {z.max()}]")
    flux = np.asarray(flux, dtype=float)
    variance = 1.0 / np.asarray(flux_ivar, dtype=float) + (CALIBRATION_FLOOR * np.abs(flux)) ** 2
    maggies = (flux * 1e-9).astype(np.float32)
    ivar = (1e18 / variance).astype(np.float32)
    model = kcorrect_model()

    def fit():
        return model.fit_coeffs(redshift=z, maggies=maggies, ivar=ivar)
    if not cache:
        return fit()
    key = hashlib.sha256(b"".join(np.ascontiguousarray(a).tobytes() for a in (z, maggies, ivar)))
    key.update(repr((model_name(), maggies.shape)).encode())
    return _pickled(cache_dir() / f"kcorrect_coeffs_{key.hexdigest()[:24]}.pkl", fit)


def model_flux(z: np.ndarray, coeffs: np.ndarray) -> np.ndarray:
    """Template fluxes (nanomaggies, no distance dimming) of ``coeffs`` placed at ``z``."""
    return kcorrect_model().reconstruct(redshift=np.asarray(z, dtype=np.float32), coeffs=coeffs) * 1e9


def kcorrection_r(z: np.ndarray, coeffs: np.ndarray) -> np.ndarray:
    """K-correction from observed r to the ^{0.1}r band (mag)."""
    k = kcorrect_model().kcorrect(redshift=np.asarray(z, dtype=np.float32), coeffs=coeffs, band_shift=BAND_SHIFT)
    return np.asarray(k[:, config.BANDS.index("r")], dtype=float)


# -- Planck18 distances, tabulated once (astropy integrates per element otherwise) ----
@functools.lru_cache(maxsize=1)
def _distance_table():
    from astropy.cosmology import Planck18  # lazy: astropy.cosmology costs ~0.5 s of import; one cached table

    z = np.linspace(0.0, 1.0, 2001)
    d_l = Planck18.luminosity_distance(z).to_value("Mpc")
    d_a = Planck18.angular_diameter_distance(z).to_value("Mpc")
    dv_dz = Planck18.differential_comoving_volume(z).to_value("Mpc3 / sr")
    return z, d_l, d_a, dv_dz


def luminosity_distance(z) -> np.ndarray:
    """Planck18 luminosity distance in Mpc."""
    zt, d_l, _, _ = _distance_table()
    return np.interp(z, zt, d_l)


def angular_diameter_distance(z) -> np.ndarray:
    """Planck18 angular-diameter distance in Mpc."""
    zt, _, d_a, _ = _distance_table()
    return np.interp(z, zt, d_a)


def comoving_volume_density(z) -> np.ndarray:
    """dV/dz/dOmega (Mpc^3 sr^-1), the weight of a redshift in a flux-limited sample."""
    zt, _, _, dv = _distance_table()
    return np.interp(z, zt, dv)


def distance_modulus(z) -> np.ndarray:
    return 5 * np.log10(luminosity_distance(z) * 1e5)  # Mpc -> 10 pc
