"""The real MGS galaxies the simulator draws from (:class:`Population`), with their kcorrect SED fits."""
from __future__ import annotations

import dataclasses
import functools

import numpy as np

from .. import mgs
from . import sed

#: objid of simulated galaxies: this plus the row number (never a row of the kcorrect file).
SIMULATED_OBJID_OFFSET = 10_000_000
#: Rows per call of kcorrect and of the spline weights, whose temporaries take 1-4 kB per row.
ROW_BLOCK = 8192


def by_blocks(fn, *arrays) -> np.ndarray:
    """``fn(*arrays)`` on blocks of ROW_BLOCK rows, concatenated: one call's numbers, bounded memory.

    For row-wise functions only (each output row depends on the same input row alone).
    """
    n = len(arrays[0])
    if n <= ROW_BLOCK:
        return fn(*arrays)
    return np.concatenate([fn(*(a[i:i + ROW_BLOCK] for a in arrays)) for i in range(0, n, ROW_BLOCK)])


@dataclasses.dataclass
class Population:
    """One row per galaxy; fluxes are dereddened model fluxes in nanomaggies.

    Real galaxies (:func:`load_real_galaxies`): SDSS measurements, ``flux_error`` their errors.
    Simulated ones (:func:`sample_population`): noise-free true fluxes, ``flux_error`` the median
    error SDSS would give such a flux (no noise is in ``flux``); ``parent_objid`` is the real
    galaxy whose kcorrect SED ``coeffs`` (rescaled) they borrow.
    """

    objid: np.ndarray
    parent_objid: np.ndarray
    is_real: np.ndarray
    ra: np.ndarray
    dec: np.ndarray
    ebv: np.ndarray
    z: np.ndarray
    flux: np.ndarray      # (n, 5)
    flux_error: np.ndarray  # (n, 5) SDSS's 1-sigma error of flux
    petro_r: np.ndarray
    coeffs: np.ndarray    # (n, 5) kcorrect template coefficients

    def __len__(self):
        return len(self.z)

    def take(self, rows) -> "Population":
        return Population(**{f.name: getattr(self, f.name)[rows] for f in dataclasses.fields(self)})

    @staticmethod
    def concatenate(parts) -> "Population":
        return Population(**{f.name: np.concatenate([getattr(p, f.name) for p in parts])
                             for f in dataclasses.fields(Population)})


def load_real_galaxies(path=None) -> Population:
    """The MGS galaxies passing the paper's cuts, with kcorrect fits (9,811 rows; a copy)."""
    real = _load_real_galaxies(str(path or mgs.mgs_path()))
    return real.take(np.arange(len(real)))


@functools.lru_cache(maxsize=2)
def _load_real_galaxies(path: str) -> Population:
    m = mgs.read_mgs(path)
    with np.errstate(divide="ignore"):
        flux_error = 1.0 / np.sqrt(m.ivar)  # ivar 0 (none in the file): infinite, so no noise is added
    coeffs = sed.fit_coeffs(m.z, m.flux, m.ivar, cache=True)
    # a few u fluxes are <= 0 (noise): the SED fit gives the galaxy's expected flux there
    flux = m.flux
    bad = flux <= 0
    if bad.any():
        flux[bad] = sed.model_flux(m.z, coeffs)[bad]
    return Population(objid=m.objid, parent_objid=m.objid.copy(), is_real=np.ones(len(m.objid), bool),
                      ra=m.ra, dec=m.dec, ebv=m.ebv, z=m.z, flux=flux,
                      flux_error=flux_error, petro_r=m.petro_r, coeffs=coeffs)
