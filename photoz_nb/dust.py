"""Galactic E(B-V) from the Schlegel, Finkbeiner & Davis (1998) map, through ``dustmaps``.

SFD's map is two FITS files, ``SFD_dust_4096_ngp.fits`` and ``SFD_dust_4096_sgp.fits``: 4096 x 4096
Lambert zenithal equal-area (ZEA) projections of each galactic hemisphere.  The files are not
shipped (about 130 MB); with them in a folder, :func:`sfd_ebv` reads the value at each (RA, Dec)
by bilinear interpolation, as SDSS's own ``EXTINCTION`` columns were made.  Fetch them with
``python -c "import dustmaps.sfd; dustmaps.sfd.fetch()"`` (after ``dustmaps.config``'s data_dir is set)
or copy them from any SFD mirror.
"""
from __future__ import annotations

from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord

MAP_FILES = ("SFD_dust_4096_ngp.fits", "SFD_dust_4096_sgp.fits")


def _import_dustmaps():
    try:
        from dustmaps.sfd import SFDQuery  # optional extra [userdata]
    except ImportError as exc:
        raise ImportError("looking up E(B-V) needs the optional package dustmaps: "
                          "pip install 'photoz-nb[userdata]' (or pip install dustmaps)") from exc
    return SFDQuery


def map_dir(sfd_dir=None) -> Path:
    """The folder holding the two SFD files: ``sfd_dir``, else dustmaps' configured ``<data_dir>/sfd``."""
    if sfd_dir is None:
        from dustmaps.std_paths import data_dir  # optional extra [userdata]
        sfd_dir = Path(data_dir()) / "sfd"
    sfd_dir = Path(sfd_dir)
    missing = [name for name in MAP_FILES if not (sfd_dir / name).exists()]
    if missing:
        raise FileNotFoundError(f"{sfd_dir}: SFD map file(s) {missing} not found; put SFD_dust_4096_ngp.fits and "
                                "_sgp.fits there (see photoz_nb.dust), or give the catalogue an 'ebv' column")
    return sfd_dir


def sfd_ebv(ra, dec, sfd_dir=None) -> np.ndarray:
    """SFD E(B-V) (mag) at ICRS ``ra``, ``dec`` (degrees), bilinear between map pixels."""
    ra, dec = np.atleast_1d(np.asarray(ra, float)), np.atleast_1d(np.asarray(dec, float))
    bad = ~(np.isfinite(ra) & np.isfinite(dec) & (np.abs(dec) <= 90))
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"ra/dec: {int(bad.sum())} invalid position(s); first at row {i}: ({ra[i]!r}, {dec[i]!r})")
    query = _import_dustmaps()(map_dir=str(map_dir(sfd_dir)))
    return np.asarray(query(SkyCoord(ra * u.deg, dec * u.deg, frame="icrs"), order=1), dtype=float)
