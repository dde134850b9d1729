"""Paper figures: one function per figure family, each returning a matplotlib Figure.

Figures are built with the object-oriented API (:class:`matplotlib.figure.Figure`, never
``pyplot``), so nothing is shown or kept alive by a GUI backend and notebooks display
each figure exactly once.  Every function draws under :func:`paper_style`: 3.5 in wide
(one A&A column), fonts of at least 8 pt, and PNGs at 200 dpi via :func:`save_figure`.

One module per figure family (:mod:`.point`, :mod:`.pdfs`, :mod:`.data`, :mod:`.architecture`,
:mod:`.realism`, :mod:`.teaching`; :mod:`.style` is what they share); this package re-exports them
all, so ``plots.X`` is every figure.

>>> fig = pit_histogram(np.random.default_rng(0).random(1000))   # doctest: +SKIP
>>> save_figure(fig, "figures/small", "pit_histogram")           # doctest: +SKIP
"""
from ..stats import sigma_mad  # plots.sigma_mad: the spread the figures annotate
from .architecture import (
                    _STAGE_FILL,
                    _arrow,
                    _box,
                    _describe_stage,
                    _shape_text,
                    _stage_key,
                    architecture,
                    architecture_stages,
                    inception_block,
)
from .data import (
                    _band_norm,
                    _lupton_rgb,
                    _round_tick,
                    _scale_bar,
                    bright_galaxies_figure,
                    example_cutouts,
                    learning_curves,
                    redshift_magnitude_distributions,
                    sdss_bright_galaxies,
)
from .learning import LEARNING_STATS, PAPER_B16_LEVELS, PAPER_CNN_POINTS, learning_curve_comparison  # noqa: F401
from .pdfs import (
                    BAND_ZORDER,
                    BAR_ZORDER,
                    GAUSS_MEDIAN_ABS_PER_WIDTH,
                    _error_vs_width,
                    _per_method,
                    _pit_vector,
                    _zoom_range,
                    coverage_plot,
                    pdf_examples,
                    pdf_widths,
                    pit_histogram,
                    stacked_nz,
)
from .point import (
                    _TABLE_COLUMNS,
                    DEPTHS,
                    SIZE_STATS,
                    _check_metric_table,
                    _density_panel,
                    _depth_stats,
                    _metrics_text,
                    _reference_value,
                    metric_vs_property,
                    metrics_vs_training_size,
                    stripe82_depth,
                    zphot_vs_zspec,
)
from .realism import (
                    _band_distribution_panel,
                    _size_columns,
                    realism_colour_redshift,
                    realism_galaxy_sizes,
                    realism_psf_fwhm,
                    realism_sky_noise,
)
from .style import (
                    _STYLE,
                    COLOURS,
                    COLUMN_WIDTH,
                    OUTLIER_DZ,
                    STAT_LABELS,
                    TEXT_WIDTH,
                    Z_LABEL,
                    ZPHOT_LABEL,
                    _as_mapping,
                    _figure,
                    _pdf_inputs,
                    _pick,
                    _redshift_axis,
                    _same_length,
                    _text_box,
                    _vector,
                    paper_style,
                    save_figure,
)
from .teaching import (
                    _check_stamps,
                    _stamp_extent,
                    calibration_maps,
                    dihedral_views,
                    galaxy_and_pdf,
                    galaxy_anatomy,
                    outlier_gallery,
                    pdf_gallery,
                    pit_crps_illustration,
                    pit_shapes,
                    pixel_stretch,
)

__all__ = ["_arrow", "_as_mapping", "_band_distribution_panel", "_band_norm", "_box", "_check_metric_table",
           "_check_stamps", "_density_panel", "_depth_stats", "_describe_stage", "_error_vs_width", "_figure",
           "_lupton_rgb", "_metrics_text", "_pdf_inputs", "_per_method", "_pick", "_pit_vector", "_redshift_axis",
           "_reference_value", "_round_tick", "_same_length", "_scale_bar", "_shape_text", "_size_columns",
           "_STAGE_FILL", "_stage_key", "_stamp_extent", "_STYLE", "_TABLE_COLUMNS", "_text_box", "_vector",
           "_zoom_range", "architecture", "architecture_stages", "BAND_ZORDER", "BAR_ZORDER", "bright_galaxies_figure",
           "calibration_maps",
           "COLOURS", "COLUMN_WIDTH", "coverage_plot", "DEPTHS", "dihedral_views", "example_cutouts",
           "galaxy_and_pdf", "galaxy_anatomy", "GAUSS_MEDIAN_ABS_PER_WIDTH", "inception_block", "learning_curves",
           "metric_vs_property", "metrics_vs_training_size", "OUTLIER_DZ", "outlier_gallery", "paper_style",
           "pdf_examples",
           "pdf_gallery", "pdf_widths", "pit_crps_illustration", "pit_histogram", "pit_shapes", "pixel_stretch",
           "realism_colour_redshift", "realism_galaxy_sizes", "realism_psf_fwhm", "realism_sky_noise",
           "redshift_magnitude_distributions", "save_figure", "sdss_bright_galaxies", "sigma_mad", "SIZE_STATS",
           "stacked_nz", "STAT_LABELS", "stripe82_depth", "TEXT_WIDTH", "Z_LABEL", "ZPHOT_LABEL", "zphot_vs_zspec"]
