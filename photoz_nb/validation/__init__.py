"""Validation of the simulation (the realism report): simulated images and catalogue against real SDSS data.

Four comparisons, each measured with ONE function on simulated and real pixels alike (the
measurement primitives are in :mod:`photoz_nb.measure`): :mod:`.fields` (real frames, crowding),
:mod:`.noise`, :mod:`.psf`, :mod:`.galaxy_sizes`, :mod:`.colours` (the comparisons), :mod:`.report`
(the table and figures), :mod:`.thresholds` (every threshold, fixed in advance).  This package only
re-exports them:

1. :func:`compare_sky_noise` -- sky noise per pixel (nanomaggies) of 64x64 stamps, measured by
   :func:`sky_noise` (1.4826 MAD of source-masked pixels) on simulated stamps and on real
   cutouts made by the real cutout pipeline (:func:`photoz_nb.sdss.cutouts.cutout`) at random
   positions in the real frames, so resampling affects both the same way.
2. :func:`compare_psf` -- PSF FWHM (arcsec) by :func:`fit_fwhm` (pixel-integrated circular
   Moffat, free beta) on isolated unsaturated stars in the native real frames, against the same
   fit on point sources rendered with the simulated catalogue's PSF FWHMs.  Stars come from
   calibObj where the field has one, else from a stellar-locus selection of detected sources.
3. :func:`compare_galaxy_sizes` -- Petrosian r magnitude, half-light radius r50, concentration
   r90/r50 and moment b/a from :func:`curve_of_growth` on simulated r stamps and on cutouts of
   extended sources detected in the real r frames (14 < r < 17.8, the same resolved-source cut
   applied to both).  Stars are removed without calibObj: unsaturated stars by the stellar
   locus in size (r50 within RESOLVED_R50_RATIO of the PSF's, whose spread is 3-5 %),
   saturated ones, which look extended, by their row-interpolated cores
   (:func:`saturated_core`) and their flat profiles; calibObj stars, where a field has them,
   are removed as well.
4. :func:`compare_colour_redshift` -- median and robust scatter of u-g, g-r, r-i in redshift
   bins: the simulated catalogue against the real kcorrect MGS catalogue.

Pass thresholds (fixed in advance, never tuned to the result):

* sky noise: each real field's median lies between the 1st and 99th percentiles of the simulated
  distribution, per band.  The simulator draws each field's noise from the survey's distribution
  (:mod:`photoz_nb.simulate.observe`), so the ratio of the simulated median to these fields' mean is
  information, not a test: the shipped fields have darker skies than the survey median;
* PSF: each real field's median FWHM lies between the 1st and 99th percentiles of the
  simulated distribution, per band.  Our effective FWHM of the real stars against calibObj's
  PSF_FWHM is reported as information only: it involves no simulated data, and the two widths
  count different amounts of the PSF's wing;
* galaxies: two-sample KS p-value >= 0.01 for log r50 and for r90/r50, and the median offset of
  real sizes from the simulated size-magnitude relation within 0.10 dex.  The two real fields
  hold only a handful of MGS-bright galaxies, so these tests have little power: read N;
* colours: rms over redshift bins of the median colour difference <= 0.03 mag for g-r and r-i,
  <= 0.05 mag for u-g (SDSS colour calibration is good to ~1-2%, u to ~3%), and the mean ratio of
  the robust scatters within [0.8, 1.25];
* catalogue errors (simulated catalogues with true magnitudes): per band and quintile of the real
  magnitudes, the simulated model magnitudes' scatter about the truth within 10 % (and two standard
  errors) of the real catalogue's quoted errors (:mod:`.catalogue_errors`).

Each test passes or fails at its own threshold, and the report also gives a family-wise verdict
(:func:`holm_passed`): the tests with a p-value (KS; a percentile span as 2 min(q, 1 - q)) fail only
if Holm's procedure rejects them at a family-wise error of FAMILY_ALPHA, since ~50 tests at 1-2 %
each would fail a perfect simulation more often than not.  :func:`detail_markdown` gives the
tables behind the tests (sizes and concentrations per r bin, error ratios per band and bin).

Every complete field of the frames folder is used, except crowded ones (:func:`field_crowding`:
more than CROWDED_DENSITY sources with 15 < r < 19 per arcmin^2, where blends of stars pass for
galaxies), which are left out with a message; one informative row per field gives its density.
Noise and PSF have rows per field; the galaxy tests are pooled ("both") and per field.

:func:`realism_report` runs all four and returns an astropy Table, one row per test.
"""
from .colours import COLOURS, ColourResult, _binned, compare_colour_redshift
from .fields import RealField, _box, _world_to_pixel, field_crowding, load_fields, split_crowded
from .galaxy_sizes import (SizeResult, _measure_rows, _psf_profile_table, binned_size_table, compare_galaxy_sizes,
                           measure_real_galaxies, psf_concentration, psf_r50, real_galaxy_candidates, saturated_core,
                           size_offset_dex)
from .noise import NoiseResult, _rows, compare_sky_noise
from .psf import (PSF_FIT_BOX, PSF_FIT_SN_MIN, PsfResult, _crop, _profile_table, _psf_widths, _quartiles,
                  _star_boxes, _star_widths, calib_star_positions, catalog_psf, compare_psf, fit_psf_model,
                  locus_star_positions, other_sources, point_source, psf_stars, star_profiles, star_sn)
from .report import (GALAXY_TESTS, RealismResults, _as_dataset, _crowding_rows, _galaxy_rows, _percentile_row,
                     _psf_rows, _row, detail_markdown, figures, holm_passed, realism_report, run_comparisons,
                     summary_table, tally)
from .thresholds import (BANDS, COLOUR_RMS_MAX, COLOUR_Z_EDGES, CROWDED_DENSITY, CROWDING_MAG_RANGE, FAMILY_ALPHA,
                         FLAT_CONCENTRATION_MARGIN, FWHM_BOX, FWHM_FIT_BOX, GALAXY_MAG_RANGE, KS_P_MIN, MIN_PER_BIN,
                         PERCENTILE_RANGE, RESOLVED_R50_RATIO, SATURATED_LINEAR_PIXELS, SATURATION_BOX,
                         SATURATION_MAG, SATURATION_MIN_DN, SCATTER_RATIO_RANGE, SIZE_OFFSET_MAX_DEX, STAR_MAG_RANGE,
                         STAR_MATCH_ARCSEC, R)

# The measurement primitives, under the names the report's users know them by (validation.sky_noise, ...).
from ..measure import (axis_ratio, core_wing_image, curve_of_growth, detect_sources, effective_fwhm,
                       fit_fwhm, fit_psf_wing, moffat_alpha, moffat_image, sky_noise, source_mask)

__all__ = ["_as_dataset", "_binned", "_box", "_crop", "_crowding_rows", "_galaxy_rows",
           "_measure_rows", "_percentile_row", "_profile_table", "_psf_profile_table", "_psf_rows", "_psf_widths",
           "_quartiles", "_row", "_rows", "_star_boxes", "_star_widths", "_world_to_pixel", "axis_ratio", "BANDS",
           "binned_size_table", "detail_markdown", "holm_passed",
           "calib_star_positions", "catalog_psf", "COLOUR_RMS_MAX", "COLOUR_Z_EDGES", "ColourResult", "COLOURS",
           "compare_colour_redshift", "compare_galaxy_sizes", "compare_psf", "compare_sky_noise", "core_wing_image",
           "CROWDED_DENSITY", "CROWDING_MAG_RANGE", "curve_of_growth", "FAMILY_ALPHA", "detect_sources", "effective_fwhm",
           "field_crowding", "figures", "fit_fwhm", "fit_psf_model", "fit_psf_wing", "FLAT_CONCENTRATION_MARGIN",
           "FWHM_BOX", "FWHM_FIT_BOX", "GALAXY_MAG_RANGE", "GALAXY_TESTS", "KS_P_MIN", "load_fields",
           "locus_star_positions", "measure_real_galaxies", "MIN_PER_BIN", "moffat_alpha", "moffat_image",
           "NoiseResult", "other_sources", "PERCENTILE_RANGE", "point_source", "psf_concentration", "PSF_FIT_BOX",
           "PSF_FIT_SN_MIN", "psf_r50", "psf_stars", "PsfResult", "R", "real_galaxy_candidates", "RealField",
           "realism_report", "RealismResults", "RESOLVED_R50_RATIO", "run_comparisons", "saturated_core",
           "SATURATED_LINEAR_PIXELS", "SATURATION_BOX", "SATURATION_MAG", "SATURATION_MIN_DN", "SCATTER_RATIO_RANGE",
           "size_offset_dex", "SIZE_OFFSET_MAX_DEX", "SizeResult", "sky_noise", "source_mask", "split_crowded",
           "STAR_MAG_RANGE", "STAR_MATCH_ARCSEC", "star_profiles", "star_sn", "summary_table", "tally"]
