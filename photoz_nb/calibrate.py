"""Recalibration of redshift PDFs, fitted on the validation split, and calibration diagnostics.

Three calibrators with the scikit-learn shape ``fit(pdfs_val, z_val, condition=None) -> self``
and ``transform(pdfs, condition=None) -> pdfs`` (float32, rows summing to 1, same edges):

- :class:`TemperatureScaling`: ``p_i ∝ p_i ** (1/T)`` (logits divided by T, as in
  Dey et al. 2022); one number fitted by the validation negative log-likelihood.
- :class:`PITRemap`: global PIT recalibration (Bordoloi et al. 2010): the CDF ``F`` of every
  PDF becomes ``G(F)``, with ``G`` the CDF of the validation PITs.
- :class:`ConditionalPITRemap`: local recalibration (Dey et al. 2022, Lin et al. 2024 style):
  one PIT map per quantile group of a conditioning variable (r magnitude, the PDF's own point
  estimate, ...); the number of groups adapts to the validation size.

A map fitted on ``n`` validation galaxies carries their sampling noise to every other sample:
the 68% coverage it gives elsewhere scatters by ``sqrt(0.68 * 0.32 / n)`` (1.7 points for the
784 validation galaxies of the ``small`` profile), on top of the evaluation sample's own
noise.  :func:`cross_fit` and :func:`cross_fit_all` calibrate an evaluation sample fold by
fold with maps fitted on the validation split plus the other folds, so the map rests on
several times more galaxies while no galaxy is calibrated with its own redshift.

Diagnostics: :func:`pit_ks`, :func:`pit_cvm`, :func:`coverage`, :func:`calibration_report`.
PIT, CDF, quantiles and CRPS all come from :mod:`photoz_nb.pdf`.

>>> import numpy as np
>>> from photoz_nb import config
>>> edges = config.redshift_edges()
>>> rng = np.random.default_rng(0)
>>> mu = rng.uniform(0.1, 0.3, 500)
>>> z = mu + rng.normal(0, 0.02, 500)
>>> mid = (edges[:-1] + edges[1:]) / 2
>>> too_narrow = np.exp(-0.5 * ((mid - mu[:, None]) / 0.01) ** 2)
>>> too_narrow /= too_narrow.sum(axis=1, keepdims=True)
>>> t = TemperatureScaling().fit(too_narrow, z)
>>> bool(t.temperature_ > 2)   # a Gaussian tempered by T widens by sqrt(T): here ~4
True
"""
from __future__ import annotations

import copy
import warnings

import numpy as np
from astropy.table import Table
from scipy import optimize, special, stats

from . import config
from . import pdf as pdfmod
from .metrics import bootstrap, point_metrics
from .pdf import edge_cdf  # the CDF at every edge; the same convention as pit() and crps()
from .stats import check_finite

__all__ = ["NotFittedError", "TemperatureScaling", "PITRemap", "ConditionalPITRemap",
           "fit_all", "apply_all", "cross_fit", "cross_fit_all", "pit_ks", "pit_cvm", "coverage",
           "calibration_report"]

#: Names of the calibrators made by :func:`fit_all`, in report order.
METHODS = ("temperature", "pit_remap", "conditional_pit_remap")


class NotFittedError(ValueError, AttributeError):
    """``transform`` was called before ``fit`` (a ValueError, like scikit-learn's)."""


# ---------------------------------------------------------------- shared input handling

def _edges_or_default(edges) -> np.ndarray:
    return config.redshift_edges() if edges is None else np.asarray(edges, dtype=float)


def _check_rows(n_rows: int, values, name: str) -> np.ndarray:
    """``values`` as a finite float 1-D array with one value per PDF row."""
    values = np.asarray(values, dtype=float)
    if values.ndim != 1 or len(values) != n_rows:
        raise ValueError(f"{name} must be a 1-D array with one value per PDF row ({n_rows}), "
                         f"got shape {values.shape}")
    return check_finite(values, name)


def _check_pdfs_z(pdfs, z, edges):
    """Validated float64 PDFs and one true redshift per row (no scalar broadcast here)."""
    if np.ndim(z) != 1:
        raise ValueError(f"z must be a 1-D array with one redshift per PDF row, got shape {np.shape(z)}")
    p, _, z = pdfmod.validate_pdfs(pdfs, edges, z)
    if len(p) < 2:
        raise ValueError(f"need at least 2 validation galaxies to fit a calibration, got {len(p)}")
    return p, z


def _as_output(p: np.ndarray) -> np.ndarray:
    """float32 rows that sum to 1 in float32 arithmetic."""
    out = np.maximum(p, 0).astype(np.float32)
    out /= out.sum(axis=1, keepdims=True)
    return out


class _Calibrator:
    """Common plumbing: grid, fitted check, ``fit_transform``."""

    def __init__(self, edges=None):
        self.edges = _edges_or_default(edges)

    def _check_fitted(self):
        if not getattr(self, "fitted_", False):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet: call "
                                 "fit(pdfs_val, z_val) on the validation split before transform()")

    def fit_transform(self, pdfs, z, condition=None) -> np.ndarray:
        """``fit`` then ``transform`` the same PDFs (for diagnostics only: it sees the truth)."""
        return self.fit(pdfs, z, condition=condition).transform(pdfs, condition=condition)


# ---------------------------------------------------------------- temperature scaling

class TemperatureScaling(_Calibrator):
    """``p_i ∝ max(p_i, floor) ** (1/T)``: T > 1 widens overconfident PDFs, T < 1 sharpens.

    Parameters
    ----------
    edges : array_like, optional
        Bin edges of the PDFs; default :func:`photoz_nb.config.redshift_edges`.
    floor : float
        Probabilities are floored here before the log, so empty bins have finite logits
        (and a true redshift in an empty bin a finite, large, penalty).  Keep it tiny: a
        floor acts as a flat pedestal of ``floor ** (1/T)`` per bin after tempering and
        biases T low (with 1e-10 a 2x-too-narrow Gaussian gets T ~ 3.4 instead of 4).
    bounds : (float, float)
        Search range of T.

    Attributes
    ----------
    temperature_ : float
        The fitted T.
    nll_ : float
        Mean validation negative log-likelihood of the true bin at ``temperature_``.
    """

    def __init__(self, edges=None, floor: float = 1e-30, bounds=(0.05, 20.0)):
        super().__init__(edges)
        if not 0 < floor < 1:
            raise ValueError(f"floor must be in (0, 1), got {floor!r}")
        if not 0 < bounds[0] < 1 < bounds[1]:
            raise ValueError(f"bounds must bracket T = 1 with a positive lower end, got {bounds!r}")
        self.floor, self.bounds = floor, tuple(bounds)

    def _logits(self, p: np.ndarray) -> np.ndarray:
        return np.log(np.maximum(p, self.floor))

    def fit(self, pdfs_val, z_val, condition=None) -> "TemperatureScaling":
        """Choose T minimising the mean -log p'(true bin) on the validation PDFs.

        ``condition`` is accepted for a uniform interface and ignored.
        """
        p, z = _check_pdfs_z(pdfs_val, z_val, self.edges)
        logits = self._logits(p)
        true_bin = pdfmod.bin_index(z, self.edges)
        true_logit = logits[np.arange(len(p)), true_bin]

        def nll(log_t):
            inv_t = np.exp(-log_t)
            return float(np.mean(special.logsumexp(logits * inv_t, axis=1) - true_logit * inv_t))

        best = optimize.minimize_scalar(nll, bounds=np.log(self.bounds), method="bounded",
                                        options={"xatol": 1e-5})
        self.temperature_, self.nll_ = float(np.exp(best.x)), float(best.fun)
        if np.isclose(self.temperature_, self.bounds, rtol=1e-3).any():
            warnings.warn(f"fitted temperature {self.temperature_:.4g} is at the edge of bounds="
                          f"{self.bounds}: the PDFs may be badly miscalibrated", stacklevel=2)
        self.fitted_ = True
        return self

    def transform(self, pdfs, condition=None) -> np.ndarray:
        """Tempered PDFs, float32, rows summing to 1 (``condition`` is ignored)."""
        self._check_fitted()
        p, _ = pdfmod.validate_pdfs(pdfs, self.edges)
        scaled = self._logits(p) / self.temperature_
        return _as_output(special.softmax(scaled, axis=1))


# ---------------------------------------------------------------- global PIT remap

def _fit_pit_map(pit: np.ndarray, n_knots: int, min_per_knot: int = 10):
    """Knots ``(x, y)`` of a monotone piecewise-linear G with G(0) = 0 and G(1) = 1.

    ``x`` are empirical PIT quantiles at the levels ``y``, with at most one knot per
    ``min_per_knot`` PITs so that each knot rests on some data.  A tiny blend with the
    identity makes ``x`` strictly increasing, so ties (e.g. many PIT = 0 from outliers) do
    not make the interpolation ill-posed.
    """
    n = min(n_knots, max(len(pit) // min_per_knot, 2))
    y = np.linspace(0.0, 1.0, n + 1)
    x = np.quantile(pit, y)
    x[0], x[-1] = 0.0, 1.0
    x = (1 - 1e-6) * x + 1e-6 * y
    return x, y


def _apply_pit_map(p: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """New bin probabilities: differences of G(F) at the edges (exact there)."""
    return np.diff(np.interp(edge_cdf(p), x, y), axis=1)


class PITRemap(_Calibrator):
    """Global PIT recalibration: each CDF F becomes G(F), G the CDF of the validation PITs.

    If the validation PITs have CDF G, then G(PIT) is uniform: the recalibrated PDFs are
    calibrated on average over the sample (Bordoloi et al. 2010).  G is piecewise linear
    through ``n_knots`` empirical quantiles of the PITs, so the new CDF at every bin edge is
    exactly G(F(edge)) and stays linear between edges.

    Parameters
    ----------
    edges : array_like, optional
        Bin edges of the PDFs; default :func:`photoz_nb.config.redshift_edges`.
    n_knots : int
        Knots of G (fewer when there are under 10 validation galaxies per knot).

    Attributes
    ----------
    knots_x_, knots_y_ : ndarray
        G(knots_x_) = knots_y_, both from 0 to 1, increasing.
    """

    def __init__(self, edges=None, n_knots: int = 200):
        super().__init__(edges)
        if int(n_knots) < 2:
            raise ValueError(f"n_knots must be at least 2, got {n_knots!r}")
        self.n_knots = int(n_knots)

    def fit(self, pdfs_val, z_val, condition=None) -> "PITRemap":
        """Learn G from the validation PITs (``condition`` is accepted and ignored)."""
        p, z = _check_pdfs_z(pdfs_val, z_val, self.edges)
        self.knots_x_, self.knots_y_ = _fit_pit_map(pdfmod.pit(p, self.edges, z), self.n_knots)
        self.fitted_ = True
        return self

    def transform(self, pdfs, condition=None) -> np.ndarray:
        """Remapped PDFs, float32, rows summing to 1 (``condition`` is ignored)."""
        self._check_fitted()
        p, _ = pdfmod.validate_pdfs(pdfs, self.edges)
        return _as_output(_apply_pit_map(p, self.knots_x_, self.knots_y_))


# ---------------------------------------------------------------- conditional PIT remap

class ConditionalPITRemap(_Calibrator):
    """PIT remap fitted separately in quantile groups of a conditioning variable.

    A global remap only makes the sample calibrated on average: if faint galaxies are
    overconfident and bright ones are not, it over-widens the bright ones.  Here each group
    of the condition gets its own G.

    The number of groups adapts to the validation size: ``n_groups_ = min(n_groups,
    n_val // min_count)`` (at least 1), so every group has about ``min_count`` galaxies or
    more (200 by default: the 68% coverage of one group's map is then good to ~3 points).
    With 784 validation galaxies (``small``) that is 3 groups; with 1 group the map is the
    global one.  A group that still ends up under ``min_count`` (ties in the condition)
    uses the global G.

    Parameters
    ----------
    edges : array_like, optional
        Bin edges of the PDFs; default :func:`photoz_nb.config.redshift_edges`.
    n_groups : int
        Most quantile groups of the validation condition (equal counts, bar ties).
    min_count : int
        Fewest validation galaxies a group should have; sets ``n_groups_``.
    n_knots : int
        Knots of each G, as in :class:`PITRemap`.
    point_kind : str
        When ``condition`` is None the condition is the PDF's own point estimate of this
        kind (see :func:`photoz_nb.pdf.point_estimate`).

    Attributes
    ----------
    n_groups_ : int
        Groups actually used (see above).
    group_edges_ : ndarray (n_groups_ - 1,)
        Inner boundaries of the groups; values beyond the validation range join the end groups.
    group_counts_ : ndarray (n_groups_,)
        Validation galaxies per group.
    uses_global_ : ndarray of bool (n_groups_,)
        Groups that fell back to the global map.
    global_map_ : PITRemap
        The fallback, fitted on all validation galaxies.
    """

    def __init__(self, edges=None, n_groups: int = 4, min_count: int = 200, n_knots: int = 200,
                 point_kind: str = "median"):
        super().__init__(edges)
        if int(n_groups) < 1:
            raise ValueError(f"n_groups must be at least 1, got {n_groups!r}")
        if int(n_knots) < 2:
            raise ValueError(f"n_knots must be at least 2, got {n_knots!r}")
        if int(min_count) < 1:
            raise ValueError(f"min_count must be at least 1, got {min_count!r}")
        if point_kind not in pdfmod.POINT_KINDS:
            raise ValueError(f"point_kind must be one of {pdfmod.POINT_KINDS}, got {point_kind!r}")
        self.n_groups, self.min_count, self.n_knots = int(n_groups), int(min_count), int(n_knots)
        self.point_kind = point_kind

    def _condition(self, p: np.ndarray, condition) -> np.ndarray:
        if condition is None:
            return pdfmod.point_estimate(p, self.edges, self.point_kind)
        return _check_rows(len(p), condition, "condition")

    def _group_of(self, values: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.group_edges_, values, side="right")

    def fit(self, pdfs_val, z_val, condition=None) -> "ConditionalPITRemap":
        """Fit the global map and one map per group of ``condition`` (one value per galaxy).

        Without ``condition`` the PDFs' own ``point_kind`` estimate is used, and
        ``transform`` must then also be called without one.
        """
        p, z = _check_pdfs_z(pdfs_val, z_val, self.edges)
        values = self._condition(p, condition)
        self.condition_source_ = "point_estimate" if condition is None else "array"
        pit = pdfmod.pit(p, self.edges, z)
        self.global_map_ = PITRemap(self.edges, self.n_knots).fit(pdfs_val, z_val)
        self.n_groups_ = int(np.clip(len(p) // self.min_count, 1, self.n_groups))
        self.group_edges_ = np.quantile(values, np.arange(1, self.n_groups_) / self.n_groups_)
        group = self._group_of(values)
        self.group_counts_ = np.bincount(group, minlength=self.n_groups_)
        self.uses_global_ = self.group_counts_ < self.min_count
        self.maps_ = [(self.global_map_.knots_x_, self.global_map_.knots_y_) if fallback
                      else _fit_pit_map(pit[group == g], self.n_knots)
                      for g, fallback in enumerate(self.uses_global_)]
        if self.uses_global_.any() and self.n_groups_ > 1:
            warnings.warn(f"{int(self.uses_global_.sum())} of {self.n_groups_} condition groups have "
                          f"fewer than min_count={self.min_count} validation galaxies "
                          f"(counts {self.group_counts_.tolist()}); they use the global PIT map",
                          stacklevel=2)
        self.fitted_ = True
        return self

    def transform(self, pdfs, condition=None) -> np.ndarray:
        """Each PDF remapped with its group's G; float32, rows summing to 1."""
        self._check_fitted()
        source = "point_estimate" if condition is None else "array"
        if source != self.condition_source_:
            how = {"array": "a condition array", "point_estimate": "condition=None (own point estimate)"}
            raise ValueError(f"condition mismatch: fitted with {how[self.condition_source_]} but "
                             f"transform got {how[source]}; pass the same kind of condition")
        p, _ = pdfmod.validate_pdfs(pdfs, self.edges)
        group = self._group_of(self._condition(p, condition))
        out = np.empty_like(p)
        for g, (x, y) in enumerate(self.maps_):
            rows = group == g
            out[rows] = _apply_pit_map(p[rows], x, y)
        return _as_output(out)


# ---------------------------------------------------------------- fitting every method

#: The class of each method of :data:`METHODS`.
CALIBRATORS = {"temperature": TemperatureScaling, "pit_remap": PITRemap, "conditional_pit_remap": ConditionalPITRemap}


def fit_all(pdfs_val, z_val, condition_val=None, edges=None) -> dict:
    """Fit every calibrator on the validation split.

    Returns
    -------
    dict
        ``{"temperature": TemperatureScaling, "pit_remap": PITRemap,
        "conditional_pit_remap": ConditionalPITRemap}``, all fitted; the conditional one
        uses ``condition_val`` (or, if None, the PDFs' own median redshift).
    """
    return {name: CALIBRATORS[name](edges).fit(pdfs_val, z_val, condition=condition_val)
            for name in METHODS}


def apply_all(calibrators: dict, pdfs, condition=None, include_raw: bool = True) -> dict:
    """``{name: calibrator.transform(pdfs, condition)}``, first ``"uncalibrated"`` (the input)."""
    out = {"uncalibrated": np.asarray(pdfs, dtype=np.float32)} if include_raw else {}
    out.update({name: cal.transform(pdfs, condition=condition) for name, cal in calibrators.items()})
    return out


def _fold_labels(n: int, n_folds: int, seed: int) -> np.ndarray:
    if not 2 <= int(n_folds) <= n:
        raise ValueError(f"n_folds must be between 2 and the number of galaxies to calibrate ({n}), "
                         f"got {n_folds!r}")
    return np.random.default_rng(seed).permutation(np.arange(n) % int(n_folds))


def cross_fit(calibrator, pdfs_fit, z_fit, pdfs_eval, z_eval, condition_fit=None, condition_eval=None,
              n_folds: int = 5, seed: int = 0) -> np.ndarray:
    """Calibrate ``pdfs_eval`` fold by fold, each fold with a map that never saw its redshifts.

    The evaluation galaxies are split into ``n_folds`` seeded random folds; fold k is
    transformed by a copy of ``calibrator`` fitted on the fit sample (the validation split)
    plus the other folds.  Every galaxy is calibrated out of sample, yet the maps rest on
    ``n_fit + (1 - 1/n_folds) n_eval`` galaxies instead of ``n_fit`` (cross-conformal style).

    Parameters
    ----------
    calibrator : an unfitted calibrator (e.g. ``PITRemap()``); it is copied, not modified.
    pdfs_fit, z_fit : validation PDFs and redshifts.
    pdfs_eval, z_eval : the sample to calibrate (e.g. the test split) and its redshifts.
    condition_fit, condition_eval : optional per-galaxy conditions (conditional remap).
    n_folds, seed : folds of the evaluation sample and the seed of their assignment.

    Returns
    -------
    ndarray (n_eval, n_bins) float32, rows in the order of ``pdfs_eval``.
    """
    p_fit, z_fit = _check_pdfs_z(pdfs_fit, z_fit, calibrator.edges)
    p_eval, z_eval = _check_pdfs_z(pdfs_eval, z_eval, calibrator.edges)
    if (condition_fit is None) != (condition_eval is None):
        raise ValueError("give both condition_fit and condition_eval, or neither")
    conditioned = condition_fit is not None
    if conditioned:
        condition_fit = _check_rows(len(p_fit), condition_fit, "condition_fit")
        condition_eval = _check_rows(len(p_eval), condition_eval, "condition_eval")
    folds = _fold_labels(len(p_eval), n_folds, seed)
    out = np.empty(p_eval.shape, np.float32)
    for k in range(int(n_folds)):
        held, rest = folds == k, folds != k
        fitted = copy.deepcopy(calibrator).fit(
            np.concatenate([p_fit, p_eval[rest]]), np.concatenate([z_fit, z_eval[rest]]),
            condition=np.concatenate([condition_fit, condition_eval[rest]]) if conditioned else None)
        out[held] = fitted.transform(p_eval[held], condition=condition_eval[held] if conditioned else None)
    return out


def cross_fit_all(pdfs_val, z_val, pdfs_eval, z_eval, condition_val=None, condition_eval=None,
                  edges=None, n_folds: int = 5, seed: int = 0, include_raw: bool = True) -> dict:
    """:func:`cross_fit` of every method of :func:`fit_all`, as ``{name: calibrated PDFs}``.

    Same keys and order as :func:`apply_all` (first ``"uncalibrated"``); the conditional
    remap uses the conditions when given, else the PDFs' own median redshift.
    """
    out = {"uncalibrated": np.asarray(pdfs_eval, dtype=np.float32)} if include_raw else {}
    for name in METHODS:
        cond = (condition_val, condition_eval) if name == "conditional_pit_remap" else (None, None)
        out[name] = cross_fit(CALIBRATORS[name](edges), pdfs_val, z_val, pdfs_eval, z_eval, *cond,
                              n_folds=n_folds, seed=seed)
    return out


# ---------------------------------------------------------------- diagnostics

def _check_pit(pit) -> np.ndarray:
    pit = np.asarray(pit, dtype=float)
    if pit.ndim != 1 or len(pit) == 0:
        raise ValueError(f"pit must be a non-empty 1-D array, got shape {pit.shape}")
    bad = ~np.isfinite(pit) | (pit < 0) | (pit > 1)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"pit has {int(bad.sum())} value(s) that are NaN or outside [0, 1]; "
                         f"first pit[{i}]={pit[i]!r}")
    return pit


def pit_ks(pit) -> float:
    """Kolmogorov-Smirnov statistic of the PITs against U(0, 1) (0 = perfectly flat)."""
    return float(stats.kstest(_check_pit(pit), "uniform").statistic)


def pit_cvm(pit) -> float:
    """Cramér-von Mises statistic ``n * ∫ (F_n - u)^2 du`` of the PITs against U(0, 1).

    It grows with n for miscalibrated PDFs: compare methods on the same galaxies.
    """
    return float(stats.cramervonmises(_check_pit(pit), "uniform").statistic)


def coverage(pdfs, edges, z, levels=(0.68, 0.95)) -> dict:
    """Fraction of true redshifts inside each PDF's central interval, per level.

    The interval at level ``l`` runs from the ``(1 - l)/2`` to the ``(1 + l)/2`` quantile
    of the piecewise-linear CDF; calibrated PDFs give a fraction of about ``l``.
    """
    levels = np.atleast_1d(np.asarray(levels, dtype=float))
    if levels.ndim != 1 or np.any((levels <= 0) | (levels >= 1)):
        raise ValueError(f"levels must be in (0, 1), got {levels!r}")
    p, edges, z = pdfmod.validate_pdfs(pdfs, edges, z)
    q = pdfmod.quantile(p, edges, np.concatenate([(1 - levels) / 2, (1 + levels) / 2]))
    lo, hi = q[:, :len(levels)], q[:, len(levels):]
    inside = (z[:, None] >= lo) & (z[:, None] <= hi)
    return {float(level): float(frac) for level, frac in zip(levels, inside.mean(axis=0))}


def _report_stats(z, z_phot, crps, inside, z_phot_ref, crps_ref, levels) -> dict:
    """Statistics of one method on (resampled) galaxies; ``*_change`` are paired with the reference."""
    sigma = point_metrics(z_phot, z)["sigma_mad"]
    out = {f"coverage{round(100 * lv)}": float(np.mean(inside[:, j])) for j, lv in enumerate(levels)}
    out.update(crps_mean=float(np.mean(crps)), sigma_mad=sigma,
               crps_change=float(np.mean(crps - crps_ref)),
               sigma_mad_change=sigma - point_metrics(z_phot_ref, z)["sigma_mad"])
    return out


def calibration_report(pdfs_dict: dict, edges, z, levels=(0.68, 0.95), point_kind: str = "mean",
                       n_boot: int = 200, seed: int = 0) -> Table:
    """One row per method: PIT KS and CvM, coverages, mean CRPS and sigma_MAD, with bootstrap errors.

    Parameters
    ----------
    pdfs_dict : dict
        ``{method name: PDFs (N, n_bins)}``, all for the same galaxies (e.g. :func:`apply_all`);
        the first entry is the reference of the ``*_change`` columns.
    edges : array_like
        Bin edges.
    z : array_like (N,)
        True redshifts.
    levels : tuple of float
        Coverage levels; column ``coverage68`` for 0.68, etc.
    point_kind : str
        Point estimate behind ``sigma_mad`` (via ``photoz_nb.metrics.point_metrics``).
    n_boot, seed : int
        Bootstrap resamples of the galaxies (the same resamples for every method, so the
        changes are paired); ``n_boot=0`` leaves out every ``*_err`` column.

    Returns
    -------
    astropy.table.Table
        Columns ``method, ks, cvm, coverage68, coverage95, crps_mean, sigma_mad,
        crps_change, sigma_mad_change`` (change = this method minus the first one, so
        "calibration made CRPS worse beyond its error" reads ``crps_change > crps_change_err``),
        each number but KS and CvM followed by its ``*_err``.
    """
    if not pdfs_dict:
        raise ValueError("pdfs_dict is empty: give at least one {method: pdfs}")
    levels = tuple(float(lv) for lv in np.atleast_1d(levels))
    if any(not 0 < lv < 1 for lv in levels):
        raise ValueError(f"levels must be in (0, 1), got {levels!r}")
    per_galaxy = {}
    for method, pdfs in pdfs_dict.items():
        p, e, zz = pdfmod.validate_pdfs(pdfs, edges, z)  # the same z for every method
        q = pdfmod.quantile(p, e, np.concatenate([(1 - np.array(levels)) / 2, (1 + np.array(levels)) / 2]))
        inside = (zz[:, None] >= q[:, :len(levels)]) & (zz[:, None] <= q[:, len(levels):])
        per_galaxy[method] = (pdfmod.point_estimate(p, e, point_kind), pdfmod.crps(p, e, zz), inside,
                              pdfmod.pit(p, e, zz))
    ref = next(iter(per_galaxy.values()))
    rows = []
    for method, (z_phot, crps, inside, pit) in per_galaxy.items():
        args = (zz, z_phot, crps, inside, ref[0], ref[1])
        values = _report_stats(*args, levels)
        row = {"method": method, "ks": pit_ks(pit), "cvm": pit_cvm(pit)}
        errors = (bootstrap(lambda *a: _report_stats(*a, levels), *args, n_boot=n_boot, seed=seed)
                  if n_boot else {})
        for key, value in values.items():
            row[key] = value
            if n_boot:
                row[f"{key}_err"] = errors[key]
        rows.append(row)
    return Table(rows=rows, names=list(rows[0]))
