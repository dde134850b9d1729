"""The real SDSS Main Galaxy Sample of kcorrect's test catalogue, and SDSS magnitude conversions.

Both the simulator (which draws new galaxies from these) and the photometric baselines (which
are scored on them) read the galaxies here, so neither imports the other.

The catalogue is not a random subsample of the MGS: 9,999 of its 10,000 galaxies carry a 2MASS
extended-source K magnitude (K_M_EXT, median 13.6, 99th percentile 14.4, the XSC's depth), so it
is the MGS matched to 2MASS.  At faint r only red (bright in K) galaxies make the match: the
fraction with observed u - r > 2.22 (Strateva et al. 2001's red sequence) rises from 0.69 at
r < 16 to 0.87 at 17 < r < 17.8, where the MGS grows bluer towards faint r.  The simulated
population inherits that, so it is redder and more concentrated than the MGS; it is the
population every result of the package is measured on.
"""
from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import numpy as np
from astropy.table import Table

from . import config, datafiles
from .stats import nanomaggies_to_mag

BANDS = config.BANDS
R = BANDS.index("r")
#: SDSS asinh softening parameters b (in maggies) per band (Lupton, Gunn & Szalay 1999; SDSS DR7 docs).
ASINH_SOFTENING = {"u": 1.4e-10, "g": 0.9e-10, "r": 1.2e-10, "i": 1.8e-10, "z": 7.4e-10}
POGSON = 2.5 / np.log(10)
#: sha256 of kcorrect 5.1.9's ``data/test/gst_tests_small.fits``: every simulated galaxy descends from it.
MGS_SHA256 = "d7e87e8abc45167e48889a0e824870760a2e6dde20650a6e41a72164859bf578"


def asinh_mag(flux, band: str, softening: float | None = None) -> np.ndarray:
    """SDSS asinh magnitude of ``flux`` (nanomaggies; finite for flux <= 0 too).

    Equal to the Pogson magnitude to < 0.001 mag for fluxes above ~10 b (0.9-7.4 nmgy).
    ``softening``: b in maggies, if not SDSS's for the band.
    """
    b = softening or ASINH_SOFTENING[BANDS[config.band_index(band)]]
    return -POGSON * (np.arcsinh(np.asarray(flux, dtype=float) * 1e-9 / (2 * b)) + np.log(b))


def asinh_mags(flux) -> np.ndarray:
    """:func:`asinh_mag` of fluxes (n, 5) in nanomaggies, band by band (u, g, r, i, z)."""
    flux = np.asarray(flux, dtype=float)
    return np.column_stack([asinh_mag(flux[:, j], b) for j, b in enumerate(BANDS)])


def asinh_mag_error(flux, flux_error, band: str, softening: float | None = None) -> np.ndarray:
    """1-sigma error of :func:`asinh_mag` (flux and its error in nanomaggies)."""
    b = (softening or ASINH_SOFTENING[BANDS[config.band_index(band)]]) * 1e9
    return POGSON * np.asarray(flux_error, float) / np.sqrt(np.asarray(flux, float) ** 2 + 4 * b ** 2)


def mgs_path() -> Path:
    """kcorrect's test catalogue of SDSS MGS galaxies (10,000 rows), checked against :data:`MGS_SHA256`."""
    import kcorrect  # lazy: importing kcorrect takes ~4 s (it loads its templates); only the MGS file needs it

    path = Path(kcorrect.__file__).parent / "data" / "test" / "gst_tests_small.fits"
    return datafiles.verify(path, MGS_SHA256, f"kcorrect {kcorrect.__version__}'s MGS catalogue, which drives the "
                            "simulator", fix="This kcorrect release changed the file, so the simulated data sets "
                            "would change: install the pinned release (pip install -c constraints.txt kcorrect)")


@dataclasses.dataclass(frozen=True)
class MgsGalaxies:
    """The MGS galaxies passing the paper's cuts; ``flux``/``ivar`` dereddened model fluxes (nanomaggies)."""

    objid: np.ndarray  # row number in the kcorrect file, from 1
    ra: np.ndarray
    dec: np.ndarray
    ebv: np.ndarray
    z: np.ndarray
    flux: np.ndarray   # (n, 5)
    ivar: np.ndarray   # (n, 5)
    petro_r: np.ndarray
    petro_flux: np.ndarray  # (n, 5) dereddened Petrosian fluxes (nanomaggies), all bands within r's 2 R_P
    petro_ivar: np.ndarray  # (n, 5)


def read_mgs(path=None) -> MgsGalaxies:
    """The MGS galaxies with r_petro <= 17.8 and 0 < z <= 0.4 (9,811 rows; arrays are copies)."""
    m = _read_mgs(str(path or mgs_path()))
    return MgsGalaxies(**{f.name: getattr(m, f.name).copy() for f in dataclasses.fields(m)})


@functools.lru_cache(maxsize=2)
def _read_mgs(path: str) -> MgsGalaxies:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: kcorrect's test catalogue is missing (is kcorrect installed?)")
    t = Table.read(path)
    ext = np.asarray(t["EXTINCTION"], dtype=float)
    deredden = 10 ** (0.4 * ext)
    petro_r = nanomaggies_to_mag(np.clip(np.asarray(t["PETROFLUX"][:, R], float), 1e-9, None)) - ext[:, R]
    z = np.asarray(t["Z"], dtype=float)
    keep = (petro_r <= config.R_PETRO_MAX) & (z > config.Z_MIN) & (z <= config.Z_MAX)
    return MgsGalaxies(objid=np.flatnonzero(keep).astype(np.int64) + 1,
                       ra=np.asarray(t["RA"], float)[keep], dec=np.asarray(t["DEC"], float)[keep],
                       ebv=ext[keep, R] / config.EXTINCTION_COEFF["r"], z=z[keep],
                       flux=np.asarray(t["MODELFLUX"], float)[keep] * deredden[keep],
                       ivar=np.asarray(t["MODELFLUX_IVAR"], float)[keep] / deredden[keep] ** 2,
                       petro_r=petro_r[keep],
                       petro_flux=np.asarray(t["PETROFLUX"], float)[keep] * deredden[keep],
                       petro_ivar=np.asarray(t["PETROFLUX_IVAR"], float)[keep] / deredden[keep] ** 2)
