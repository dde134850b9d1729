"""Sky cross-matching: astropy's ``SkyCoord.match_to_catalog_sky`` (great-circle distances, a k-d tree)."""
from __future__ import annotations

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord


def nearest_arcsec(ra1, dec1, ra2, dec2, exclude_self: bool = False) -> np.ndarray:
    """Distance (arcsec) from each (ra1, dec1) to the nearest (ra2, dec2), degrees in; inf where there is none.

    ``exclude_self``: the two lists are the same points, so each one's nearest *other* point is meant.
    """
    ra1, dec1 = np.atleast_1d(np.asarray(ra1, float)), np.atleast_1d(np.asarray(dec1, float))
    k = 2 if exclude_self else 1
    if len(np.atleast_1d(ra2)) < k or not len(ra1):
        return np.full(len(ra1), np.inf)
    catalogue = SkyCoord(np.asarray(ra2, float) * u.deg, np.asarray(dec2, float) * u.deg)
    _, sep, _ = SkyCoord(ra1 * u.deg, dec1 * u.deg).match_to_catalog_sky(catalogue, nthneighbor=k)
    return np.asarray(sep.to_value(u.arcsec))
