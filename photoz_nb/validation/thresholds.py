"""Pass thresholds and selections of the realism report, fixed in advance (see :mod:`photoz_nb.validation`)."""
from __future__ import annotations

import numpy as np

from .. import config

BANDS = config.BANDS
R = BANDS.index("r")

#: Pass thresholds (see the module docstring).
PERCENTILE_RANGE = (1.0, 99.0)
KS_P_MIN = 0.01
SIZE_OFFSET_MAX_DEX = 0.10
COLOUR_RMS_MAX = {"u-g": 0.05, "g-r": 0.03, "r-i": 0.03}
SCATTER_RATIO_RANGE = (0.8, 1.25)
#: Family-wise error rate of the report's tests that have a p-value (report.holm_passed).
FAMILY_ALPHA = 0.05

#: Selections.
GALAXY_MAG_RANGE = (14.0, config.R_PETRO_MAX)
#: r-magnitude bins of the size and concentration table (galaxy_sizes.binned_size_table).
SIZE_TABLE_EDGES = (GALAXY_MAG_RANGE[0], 16.0, 17.0, GALAXY_MAG_RANGE[1])
STAR_MAG_RANGE = (15.0, 19.0)
#: A source is resolved (a galaxy) when its r50 exceeds this multiple of the PSF's r50.
RESOLVED_R50_RATIO = 1.2
STAR_MATCH_ARCSEC = 3.0
COLOUR_Z_EDGES = np.arange(0.0, 0.3001, 0.025)
MIN_PER_BIN = 20  # galaxies per redshift bin in both samples (sampling error of a median ~1.25 sigma/sqrt(N))
FWHM_BOX = 31      # side (native pixels) of the box a star's effective width is measured in
FWHM_FIT_BOX = 21  # ... and of its central part the Moffat is fitted to
#: Sources more diffuse than the PSF by this much in r90/r50 are saturated stars (see _measure_rows).
FLAT_CONCENTRATION_MARGIN, SATURATION_MAG = 0.05, 15.5
#: Side (native pixels) of the core box, and the number of row-interpolated pixels, of a saturated star.
SATURATION_BOX, SATURATED_LINEAR_PIXELS = 13, 3
#: ... whose interpolated pixels hold more than this many counts (frame header NMGY: nanomaggies per
#: count); the interpolated cores measured hold 5,900-16,000, galaxies with r > 14 under ~1,000.
SATURATION_MIN_DN = 2000.0
#: A field is crowded (left out of the report) above this density of sources with 15 < r < 19 (by
#: segment flux) per arcmin^2.  Measured: 0.29-0.41 on the three high-latitude shared fields (|b| > 45),
#: 1.29 on 008162-6-0080 (b = -23), where blends and stars pass for galaxies.
CROWDED_DENSITY = 0.8
CROWDING_MAG_RANGE = (15.0, 19.0)
