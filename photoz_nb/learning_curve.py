"""The learning curve: do images beat photometry, and from how many training galaxies? (issue 30)

``photoz-nb learning-curve`` (or :func:`run` from Python) fits the CNN, kNN and RF at a series of
training sizes and scores every fit on the same test galaxies::

    >>> from photoz_nb import learning_curve as lc                 # doctest: +SKIP
    >>> result = lc.run("smoke")                                   # doctest: +SKIP
    >>> print(lc.to_markdown(result.table))                        # doctest: +SKIP

What the curve holds fixed, so that only the number of training galaxies changes:

* **One data set** (:func:`ensure_dataset`): built once, big enough for every point
  (``n_test + n_val + max(sizes)`` galaxies by default), in the curve's own folder; or any data set
  of the contract passed as ``dataset=``.  Its ``split`` column is not used.
* **Fixed splits** (:func:`make_splits`): a seeded permutation of the rows; its first ``n_test`` rows are
  the test split, the next ``n_val`` the validation split (early stopping of the CNN, kernel width of
  kNN and RF), the rest the training pool in drawn order.  The training set of size ``n`` is the pool's
  first ``n`` rows, so each size contains the smaller ones (nested), and no training or validation galaxy
  is ever a test galaxy.
* **A stated training budget** (:meth:`CurveSettings.budget`): the CNN's schedule is a number of optimiser
  steps that grows with the training size, ``steps = clip(steps_per_galaxy * n, min_steps, max_steps)``,
  rounded up to whole epochs (``epochs = ceil(steps / (n // batch_size))``).  The learning rate drops
  by 5 at a third and two thirds of those steps (the trainer's scaled paper schedule), and the run stops
  early when the validation loss has not improved for a fifth of the planned epochs (at least 3; the
  trainer's :func:`~photoz_nb.estimators.cnn.train.default_patience`) and for at least ``patience_steps``
  optimiser steps: at small sizes an epoch is a few steps, and a fifth of the epochs can be fewer steps than the
  validation loss's noise and the first learning-rate drop need (the small curve's first version, without this
  floor, stopped its 500-galaxy CNN after 126 of 504 steps, best epoch 4, its validation loss flat within
  +-0.1 of 4.75 for all 18 epochs).  The best epoch's weights are kept, so a longer wait costs time, not
  accuracy.
  Each point records the steps and epochs planned and run, its best epoch, whether it stopped early
  (converged on validation loss) or ran out of budget, the number of ensemble members and the wall time.
  Every size gets the same number of members and the same network.
* **The same test galaxies for every method and size**, scored with the paper's definitions
  (:mod:`photoz_nb.metrics`: bias, sigma_MAD, outliers |dz| > 0.05; mean CRPS from :func:`photoz_nb.pdf.crps`),
  z_phot the mean of each PDF on bin centres (:func:`photoz_nb.pdf.point_estimate`, kind "mean").
* **Paired bootstrap errors** (:func:`photoz_nb.stats.bootstrap`): at one size, every method, every
  difference (CNN-kNN, CNN-RF) and every ratio (CNN/RF, CNN/kNN) is computed on the same resampled test
  galaxies, so the errors of differences include the correlation between methods.
* **Red and blue apart**: every row exists for all test galaxies and for red (u - r > 2.22, dereddened
  catalogue magnitudes; :data:`photoz_nb.simulate.galaxies.EARLY_TYPE_U_MINUS_R`) and blue galaxies
  (column ``subset``), each bootstrapped within itself, so a reader can reweight to any colour mix.

The folder (``data/learning_curve/<name>/``, ``$PHOTOZ_HOME`` moves it; nothing goes into a profile's
``models/`` or ``predictions/``)::

    dataset/                        the curve's data set (unless dataset= names another)
    splits.npz, curve.json          the test, validation and pool rows; the settings and the data set
    points/<method>_n<size>.npz     the test galaxies' PDFs of one fit, with its key and record (.json beside)
    models/cnn_n<size>_m<k>/        the trainer's folder of CNN member k (checkpoints while it trains)
    results.ecsv / .json / .md      the table (one row per size, subset and method or comparison)
    information.ecsv / .md          RF on catalogue colours, + sizes, + b/a and on the noise-free truths, at the
                                    same sizes on the same test galaxies (simulated data sets; :func:`information_table`)
    learning_curve[_red|_blue].pdf/.png   the figure (:func:`photoz_nb.plots.learning_curve_comparison`)

Resuming: each point's file is written atomically (:mod:`photoz_nb.safeio`) when it is done, under a key
of everything that determines it (data checksums, rows, settings); a rerun skips points whose key
matches and refits the others.  A CNN member killed mid-training resumes from its last epoch checkpoint
(:func:`photoz_nb.estimators.cnn.train.train`), with the batches the uninterrupted run would have seen;
its training time is kept per finished epoch, so the recorded time survives the kill.

The error of sigma_MAD (:func:`required_test_size`): for ``n`` Gaussian residuals the median absolute
deviation has the asymptotic standard deviation ``1 / (2 sqrt(n) g(m))``, with ``m = Phi^-1(3/4) sigma``
its median and ``g(m) = 2 phi(Phi^-1(3/4)) / sigma`` the density of ``|dz|`` there (the median of dz adds
nothing at first order for a symmetric distribution).  Relative to sigma_MAD that is
``1 / (4 Phi^-1(3/4) phi(Phi^-1(3/4))) / sqrt(n) = 1.166 / sqrt(n)`` (the MAD's 37 % efficiency): a
relative error ``r`` needs ``n >= (1.166 / r)^2`` test galaxies (20,000 give 0.82 %, about 1.1e-4 at
sigma_MAD 0.013).  Heavier tails than Gaussian change the constant a little; the bootstrap errors of the
table are the measured ones.  The red and blue subsets have fewer galaxies and larger errors.
"""
from __future__ import annotations

import dataclasses
import errno
import io
import json
import math
import shutil
import time
import zipfile
from pathlib import Path

import numpy as np
from astropy.table import Table
from scipy.stats import norm
from tqdm.auto import tqdm

from . import catalog, ceiling, config, metrics, pdf, plots, safeio
from .estimators import PhotometricEstimator, parts_digest, rows_digest
from .simulate import build_dataset
from .simulate.build import build_meta
from .simulate.galaxies import EARLY_TYPE_U_MINUS_R
from .stats import bootstrap, markdown_table, plus_minus

#: The issue's sizes: 10k and 100k are the paper's 2 % and 20 % rows.
DEFAULT_SIZES = (1_000, 3_000, 10_000, 30_000, 100_000)
#: Methods, in the order they are fitted at each size (the photometric ones take seconds).
METHODS = ("kNN", "RF", "CNN")
BASELINES = {"kNN": "knn", "RF": "rf"}
#: Paired comparisons of the table: (row label, method a, method b, operation).
COMPARISONS = (("CNN-kNN", "CNN", "kNN", "difference"), ("CNN-RF", "CNN", "RF", "difference"),
               ("CNN/kNN", "CNN", "kNN", "ratio"), ("CNN/RF", "CNN", "RF", "ratio"))
SUBSETS = ("all", "red", "blue")
#: Statistics of every row (``outliers_pct`` in %, ``crps`` the mean over galaxies).
STATS = ("bias", "sigma_mad", "outliers_pct", "crps")
#: Relative standard error of sigma_MAD times sqrt(n), for Gaussian residuals (module docstring).
SIGMA_MAD_REL_ERROR = float(1 / (4 * norm.ppf(0.75) * norm.pdf(norm.ppf(0.75))))
#: Bytes per galaxy of a data set: one float32 64x64x5 stamp, plus the catalogue (~70 columns) with margin.
DATASET_BYTES_PER_GALAXY = config.STAMP ** 2 * len(config.BANDS) * 4 + 2_048
#: Disk for one CNN member's folder while it trains (two epoch checkpoints with Adam's moments, the best
#: weights, the final model), at width 1; it scales with the number of weights (~width^2).
CNN_MEMBER_BYTES_WIDTH1 = 1_200_000_000
#: Training throughput measured with ``photoz-nb bench backends`` on 2 CPU cores (config.DEFAULT_BACKEND;
#: Net_P width 0.25, batch 64): only for the time estimate of :meth:`CurveSettings.plan`.
CPU_TRAIN_IMG_PER_S = 423.0
#: Prediction throughput measured the same way (the validation pass of every epoch, the test PDFs).
CPU_PREDICT_IMG_PER_S = 1337.0

#: Pasquet et al. (2019), Table 1: the CNN at 2 %, 20 % and 80 % of the training pool.
PAPER_CNN = {10_100: {"bias": -0.00001, "sigma_mad": 0.01440, "outliers_pct": 1.29, "crps": 0.01013},
             99_001: {"bias": 0.00005, "sigma_mad": 0.00917, "outliers_pct": 0.30, "crps": 0.00679},
             393_219: {"bias": 0.00010, "sigma_mad": 0.00912, "outliers_pct": 0.31, "crps": 0.00674}}
#: Beck et al. (2016) on the paper's test sample (no CRPS given).
PAPER_B16 = {"bias": 0.00064, "sigma_mad": 0.01350, "outliers_pct": 1.34, "crps": float("nan")}


class CurveError(ValueError):
    """Settings or inputs a learning curve cannot be run with (one line: the CLI prints it)."""


class SizeTooLarge(CurveError):
    """A training size exceeds the training pool (data set minus test and validation splits)."""


class TestSplitTooSmall(CurveError):
    """The test split cannot give sigma_MAD to the requested relative error."""

    __test__ = False  # not a pytest test class, whatever its name


class NoRoomOnDisk(OSError):
    """Not enough free disk space for the data set (and PDFs and models) of the curve."""


def required_test_size(rel_error: float) -> int:
    """Test galaxies for a relative standard error ``rel_error`` of sigma_MAD: ``ceil((1.166 / r)^2)``."""
    if not (isinstance(rel_error, (int, float)) and 0 < rel_error < 1):
        raise CurveError(f"the requested relative error of sigma_MAD must be in (0, 1), got {rel_error!r}")
    return math.ceil((SIGMA_MAD_REL_ERROR / rel_error) ** 2)


# --------------------------------------------------------------------------- settings
@dataclasses.dataclass(frozen=True)
class CurveSettings:
    """Everything that determines a learning curve (see the module docstring for what each part means)."""

    name: str
    profile: str = "small"  # base profile: the simulated data set's profile tag, verify_checksums; the rest is here
    sizes: tuple = DEFAULT_SIZES
    n_test: int = 20_000
    n_val: int = 5_000
    n_galaxies: int | None = None  # data set size; default n_test + n_val + max(sizes)
    model_width: float = 0.25
    batch_size: int = 64
    learning_rate: float = 1e-3
    members: int = 1  # CNNs per size, seeds seed + k, PDFs averaged
    steps_per_galaxy: float = 0.4
    min_steps: int = 2_000
    max_steps: int = 40_000
    patience_steps: int = 300  # early stopping waits at least this many steps (and a fifth of the epochs)
    tta: bool = False
    knn_k: int = 24
    rf_trees: int = 100
    seed: int = 20190101  # data set, splits, CNN members (seed + k), forest, bootstrap
    n_boot: int = 200
    sigma_rel_error: float | None = None  # required relative error of sigma_MAD on the test split

    def __post_init__(self):
        if not self.name or Path(self.name).name != self.name or self.name in (".", ".."):
            raise CurveError(f"curve name must be a bare folder name like 'smoke', got {self.name!r}")
        config.get_profile(self.profile)  # a known profile, else its ValueError
        sizes = tuple(int(s) for s in self.sizes)
        if not sizes or any(s < 1 for s in sizes) or any(s != t for s, t in zip(sizes, self.sizes)):
            raise CurveError(f"training sizes must be positive integers, got {list(self.sizes)}")
        if len(set(sizes)) != len(sizes):
            raise CurveError(f"training sizes must be distinct, got {list(sizes)}")
        object.__setattr__(self, "sizes", tuple(sorted(sizes)))
        for field, low in (("n_test", 2), ("n_val", 1), ("batch_size", 1), ("members", 1), ("min_steps", 1),
                           ("patience_steps", 0),
                           ("knn_k", 1), ("rf_trees", 1), ("n_boot", 2)):
            value = getattr(self, field)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
                raise CurveError(f"{field} must be an integer >= {low}, got {value!r}")
        if self.max_steps < self.min_steps:
            raise CurveError(f"max_steps ({self.max_steps}) must be >= min_steps ({self.min_steps})")
        if not self.steps_per_galaxy > 0 or not self.model_width > 0 or not self.learning_rate > 0:
            raise CurveError("steps_per_galaxy, model_width and learning_rate must be positive")
        if self.knn_k > min(self.sizes):
            raise CurveError(f"kNN needs at least k = {self.knn_k} training galaxies; the smallest size is "
                             f"{min(self.sizes)}")
        if self.n_galaxies is not None and self.n_galaxies < self.n_test + self.n_val + 1:
            raise CurveError(f"n_galaxies ({self.n_galaxies}) leaves no training pool after {self.n_test} test "
                             f"and {self.n_val} validation galaxies")
        if self.sigma_rel_error is not None:
            required_test_size(self.sigma_rel_error)  # a valid request, else its error

    @property
    def dataset_size(self) -> int:
        """Galaxies of the data set the curve builds."""
        return self.n_galaxies if self.n_galaxies is not None else self.n_test + self.n_val + max(self.sizes)

    def budget(self, n_train: int) -> dict:
        """The CNN's schedule at ``n_train`` galaxies: steps asked, steps per epoch, epochs, patience, steps planned."""
        from .estimators.cnn.train import default_patience  # lazy: Keras (seconds)
        asked = int(np.clip(round(self.steps_per_galaxy * n_train), self.min_steps, self.max_steps))
        per_epoch = max(1, n_train // self.batch_size)  # the trainer drops the last partial batch
        epochs = max(1, math.ceil(asked / per_epoch))
        patience = max(default_patience(epochs), math.ceil(self.patience_steps / per_epoch))
        return {"steps_asked": asked, "steps_per_epoch": per_epoch, "epochs_budget": epochs,
                "steps_budget": epochs * per_epoch, "patience": patience}

    def training_profile(self, n_train: int) -> config.Profile:
        """The profile the CNN trainer gets at ``n_train`` (width, batch, learning rate, the epochs of the budget)."""
        return dataclasses.replace(config.get_profile(self.profile), name=f"learning_curve-{self.name}",
                                   model_width=float(self.model_width), batch_size=int(self.batch_size),
                                   learning_rate=float(self.learning_rate), epochs=self.budget(n_train)["epochs_budget"],
                                   ensemble_size=int(self.members), tta=bool(self.tta), seed=int(self.seed))

    def plan(self, img_per_s: float = CPU_TRAIN_IMG_PER_S, predict_img_per_s: float = CPU_PREDICT_IMG_PER_S) -> Table:
        """One row per size: the CNN budget and a time estimate for the whole budget, training at ``img_per_s``
        plus a validation pass per epoch and the test PDFs at ``predict_img_per_s`` [min] (an upper bound:
        early stopping runs fewer steps; the photometric fits and the data set build are not in it)."""
        rows = []
        for n in self.sizes:
            b = self.budget(n)
            images = b["steps_budget"] * self.batch_size * self.members
            predicted = (b["epochs_budget"] * self.n_val + self.n_test * (8 if self.tta else 1)) * self.members
            rows.append((n, b["steps_asked"], b["steps_budget"], b["epochs_budget"], b["patience"], self.members,
                         images, images / img_per_s / 60, predicted / predict_img_per_s / 60))
        table = Table(rows=rows, names=("training_size", "steps_asked", "steps_budget", "epochs_budget", "patience",
                                        "members", "images_budget", "est_train_min", "est_predict_min"))
        table["est_train_min"].format = table["est_predict_min"].format = ".1f"
        table.meta.update(img_per_s=img_per_s, predict_img_per_s=predict_img_per_s)
        return table

    def to_json(self) -> dict:
        return {**dataclasses.asdict(self), "sizes": list(self.sizes)}


#: The curve of each profile.  ``smoke``: a tiny curve (about a minute on 2 cores) for tests and CI;
#: ``small``: a laptop run in minutes; ``full``: the issue's curve (1k-100k, 20k test galaxies) at the
#: CPU width of Net_P, the one to run on the settled simulation.
PRESETS = {
    "smoke": CurveSettings("smoke", profile="smoke", sizes=(200, 400, 800), n_test=1_000, n_val=200,
                           model_width=0.125, steps_per_galaxy=0.2, min_steps=40, max_steps=120, patience_steps=30,
                           n_boot=100),
    "small": CurveSettings("small", profile="small", sizes=(500, 1_500, 5_000), n_test=3_000, n_val=1_000,
                           model_width=0.25, steps_per_galaxy=0.5, min_steps=600, max_steps=4_000),
    "full": CurveSettings("full", profile="paper", sizes=DEFAULT_SIZES, n_test=20_000, n_val=5_000,
                          model_width=0.25, steps_per_galaxy=0.4, min_steps=2_000, max_steps=40_000,
                          sigma_rel_error=0.0085),
}
#: The preset a profile's `photoz-nb learning-curve` runs.
PROFILE_PRESETS = {"smoke": "smoke", "small": "small", "paper": "full"}


def settings(preset: "str | CurveSettings | None" = None, **changes) -> CurveSettings:
    """A preset (by name; default the one of ``$PHOTOZ_PROFILE``) with ``changes``; a CurveSettings passes through."""
    if isinstance(preset, CurveSettings):
        return dataclasses.replace(preset, **changes) if changes else preset
    if preset is None:
        preset = PROFILE_PRESETS[config.get_profile().name]
    if preset not in PRESETS:
        raise CurveError(f"unknown learning-curve preset {preset!r}; expected one of {sorted(PRESETS)}")
    return dataclasses.replace(PRESETS[preset], **changes)


def curve_dir(s: CurveSettings) -> Path:
    """``data/learning_curve/<name>`` (``$PHOTOZ_HOME`` moves it)."""
    return config.data_root() / "learning_curve" / s.name


# --------------------------------------------------------------------------- checks
def check(s: CurveSettings, n_rows: int | None = None) -> None:
    """Raise :class:`SizeTooLarge` or :class:`TestSplitTooSmall` before any work (``n_rows``: an existing
    data set's size; default the one the curve builds)."""
    n_rows = s.dataset_size if n_rows is None else int(n_rows)
    if n_rows < s.n_test + s.n_val + 1:
        raise SizeTooLarge(f"the data set has {n_rows:,} galaxies: no training pool is left after {s.n_test:,} test "
                           f"and {s.n_val:,} validation galaxies")
    pool = n_rows - s.n_test - s.n_val
    too_big = [n for n in s.sizes if n > pool]
    if too_big:
        raise SizeTooLarge(f"training size {too_big[0]:,} is larger than the training pool of {pool:,} galaxies "
                           f"({n_rows:,} in the data set - {s.n_test:,} test - {s.n_val:,} validation); build a "
                           f"larger data set (n_galaxies >= {s.n_test + s.n_val + max(s.sizes):,}) or drop the size")
    if s.sigma_rel_error is not None:
        need = required_test_size(s.sigma_rel_error)
        if s.n_test < need:
            raise TestSplitTooSmall(
                f"a test split of {s.n_test:,} galaxies gives sigma_MAD to {SIGMA_MAD_REL_ERROR / math.sqrt(s.n_test):.2%} "
                f"(relative error ~ {SIGMA_MAD_REL_ERROR:.3f}/sqrt(n) for Gaussian residuals), not the requested "
                f"{s.sigma_rel_error:.2%}: it needs n_test >= {need:,}")


def disk_needed(s: CurveSettings, build: bool = True) -> int:
    """Bytes the curve writes: the data set (when it builds one), the test PDFs of every point, and the
    largest CNN member folder while it trains (the finished ones keep about a third of it)."""
    n_points = len(s.sizes) * len(METHODS) + len(s.sizes) * s.members
    pdf_bytes = n_points * s.n_test * config.N_BINS * 4
    member = CNN_MEMBER_BYTES_WIDTH1 * s.model_width ** 2
    models = member + len(s.sizes) * s.members * member / 3
    return int((s.dataset_size * DATASET_BYTES_PER_GALAXY if build else 0) + pdf_bytes + models)


def _allocated(path: Path) -> int:
    """Bytes already allocated under ``path`` (a resumed build's ``.partial`` folder holds its images file)."""
    if not path.exists():
        return 0
    return sum(getattr(f.stat(), "st_blocks", 0) * 512 for f in path.rglob("*") if f.is_file())


def check_disk(s: CurveSettings, folder: Path, build: bool) -> None:
    """Raise :class:`NoRoomOnDisk` (ENOSPC) when the free space at ``folder`` is less than :func:`disk_needed`."""
    need = disk_needed(s, build)
    if build:
        need -= _allocated(folder / "dataset.partial")
    where = folder
    while not where.exists():
        where = where.parent
    free = shutil.disk_usage(where).free
    if free < need:
        raise NoRoomOnDisk(errno.ENOSPC, f"learning curve {s.name!r} needs about {need / 1e9:.1f} GB in {folder} "
                                         f"({s.dataset_size:,} galaxies x {DATASET_BYTES_PER_GALAXY / 1e3:.0f} kB"
                                         f"{'' if build else ' (data set already there)'}, PDFs and models); "
                                         f"{free / 1e9:.1f} GB are free there: free some space or set PHOTOZ_HOME "
                                         "to another disk")


# --------------------------------------------------------------------------- data set and splits
def ensure_dataset(s: CurveSettings, folder: Path | None = None, progress: bool = True) -> catalog.Dataset:
    """The curve's simulated data set in ``<folder>/dataset``: reused when it is current (same generator,
    version, seed and size), else built (or resumed), after checking the sizes and the free disk space."""
    folder = curve_dir(s) if folder is None else Path(folder)
    path = folder / "dataset"
    profile = config.get_profile(s.profile)
    expected = build_meta(profile, s.seed, s.dataset_size)
    check(s)
    why = "no data set there yet"
    if path.exists():
        try:
            manifest = catalog.validate_dataset(path, verify_checksums=profile.verify_checksums)
            stale = catalog.stale_keys(manifest, expected)
            if not stale:
                return catalog.open_dataset(path, verify_checksums=False, check_pixels=False)
            why = f"made by another build ({'; '.join(stale)})"
        except catalog.ContractError as err:
            why = f"damaged ({err})"
    check_disk(s, folder, build=True)
    safeio.announce(f"building {path}: {why}")
    build_dataset(profile, out_dir=path, seed=s.seed, n=s.dataset_size, progress=progress)
    return catalog.open_dataset(path, verify_checksums=False, check_pixels=False)


@dataclasses.dataclass(frozen=True)
class Splits:
    """The curve's rows: ``test`` and ``val`` (sorted), and the training ``pool`` in drawn order."""

    test: np.ndarray
    val: np.ndarray
    pool: np.ndarray

    def train(self, n: int) -> np.ndarray:
        """The training rows of size ``n``: the pool's first ``n`` (sorted), so every size holds the smaller ones."""
        if n > len(self.pool):
            raise SizeTooLarge(f"training size {n:,} is larger than the training pool of {len(self.pool):,} galaxies")
        return np.sort(self.pool[:n])

    def digest(self) -> dict:
        return {"test": rows_digest(self.test), "val": rows_digest(self.val), "pool": rows_digest(self.pool)}


def make_splits(n_rows: int, s: CurveSettings) -> Splits:
    """Seeded (``s.seed``) test, validation and pool rows of a data set of ``n_rows`` galaxies."""
    check(s, n_rows)
    order = np.random.default_rng([s.seed, 30]).permutation(n_rows)
    return Splits(np.sort(order[:s.n_test]), np.sort(order[s.n_test:s.n_test + s.n_val]), order[s.n_test + s.n_val:])


def colour_subsets(ds: catalog.Dataset, rows: np.ndarray) -> dict[str, np.ndarray]:
    """Boolean masks over ``rows``: all, red (u - r > 2.22, dereddened catalogue magnitudes) and blue."""
    u_r = ds.column("mag_u")[rows] - ds.column("mag_r")[rows]
    red = u_r > EARLY_TYPE_U_MINUS_R
    return {"all": np.ones(len(rows), bool), "red": red, "blue": ~red}


# --------------------------------------------------------------------------- points on disk
def point_path(folder: Path, method: str, n: int) -> Path:
    return Path(folder) / "points" / f"{method.lower()}_n{n:07d}.npz"


def _save_pdfs(path: Path, pdfs: np.ndarray, rows: np.ndarray, record: dict) -> None:
    """PDFs of ``rows`` with their record (JSON), atomically and durably; a ``.json`` copy of the record beside."""
    buf = io.BytesIO()
    np.savez(buf, pdfs=np.asarray(pdfs, np.float32), edges=config.redshift_edges(), index=np.asarray(rows, np.int64),
             record=np.array(json.dumps(record)))
    path.parent.mkdir(parents=True, exist_ok=True)
    safeio.write_atomic(path.with_suffix(".json"), json.dumps(record, indent=2))
    safeio.write_atomic(path, buf.getvalue())  # the commit point: the .npz names a finished fit


def _load_pdfs(path: Path, key: str, rows: np.ndarray):
    """(PDFs, record) saved under ``key`` for ``rows``; None when missing, made from other inputs, or unreadable."""
    try:
        with np.load(path, allow_pickle=False) as f:
            record = json.loads(str(f["record"]))
            if record.get("key") != key or not np.array_equal(f["index"], rows):
                return None
            return f["pdfs"], record
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:  # torn or garbled: refit, kept aside
        safeio.set_aside(path, f"unreadable learning-curve point ({type(err).__name__}: {str(err)[:80]})")
        return None


def _baseline(s: CurveSettings, label: str) -> PhotometricEstimator:
    """kNN with ``s.knn_k`` neighbours, or RF with ``s.rf_trees`` trees (each keeps the other's default, so that
    changing one does not refit the other)."""
    if label == "kNN":
        return PhotometricEstimator("knn", k=s.knn_k, seed=s.seed)
    return PhotometricEstimator("rf", n_trees=s.rf_trees, seed=s.seed)


def _fit_baseline(ds, s: CurveSettings, label: str, train, val, test) -> tuple[np.ndarray, dict]:
    est = _baseline(s, label)
    t0 = time.perf_counter()
    est.fit(ds, train, val)
    fit_s = time.perf_counter() - t0
    pdfs = est.predict_pdfs(ds, test)
    return pdfs, {"fit_s": fit_s, "predict_s": time.perf_counter() - t0 - fit_s,
                  "wall_s": time.perf_counter() - t0, "bandwidth": float(est.model.bandwidth)}


def _baseline_key(ds, s: CurveSettings, label: str, train, val, test) -> str:
    est = _baseline(s, label)
    return parts_digest(label, est.params(), catalog.input_checksums(ds, est.reads), rows_digest(train),
                        rows_digest(val), rows_digest(test))


def _epoch_clock(path: Path, key: str):
    """A Keras callback keeping each finished epoch's wall time in ``path`` ({"key", "seconds": {epoch: s}})."""
    import keras  # lazy: Keras loads in seconds

    class EpochClock(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t0 = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            saved = _read_clock(path, key)
            saved[str(epoch + 1)] = time.perf_counter() - self.t0
            safeio.write_atomic(path, json.dumps({"key": key, "seconds": saved}))

    return EpochClock()


def _read_clock(path: Path, key: str) -> dict:
    try:
        saved = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return {}
    return dict(saved.get("seconds", {})) if isinstance(saved, dict) and saved.get("key") == key else {}


def _cnn_member(ds, s: CurveSettings, folder: Path, n: int, k: int, train, val, test, progress: bool,
                callbacks) -> tuple[np.ndarray, dict]:
    """Train (or resume, or reload) CNN member ``k`` at size ``n`` and predict the test galaxies."""
    from .estimators.cnn.predict import predict  # lazy: Keras (seconds)
    from .estimators.cnn.train import gpu_count, run_identity, train as train_cnn
    profile, budget = s.training_profile(n), s.budget(n)
    seed = profile.seed + k
    mixed = gpu_count() > 0
    identity = run_identity(ds, profile, seed, True, train, val, budget["patience"], mixed)
    key = parts_digest(identity, {"tta": profile.tta, "test": rows_digest(test)})
    out = folder / "models" / f"cnn_n{n:07d}_m{k}"
    saved = _load_pdfs(out / "test_pdfs.npz", key, test)
    if saved is not None:
        return saved
    clock = out / "epoch_seconds.json"
    result = train_cnn(ds, profile, out, seed=seed, train_index=train, val_index=val, patience=budget["patience"],
                       overwrite=True, progress=progress, mixed_precision=mixed,
                       callbacks=[_epoch_clock(clock, key), *callbacks])
    t0 = time.perf_counter()
    pdfs = predict(result.model, ds, test, tta=profile.tta, progress=progress)
    predict_s = time.perf_counter() - t0
    run = json.loads((out / "run.json").read_text())
    seconds = _read_clock(clock, key)
    record = {"key": key, "seed": seed, "epochs_run": run["epochs_run"], "best_epoch": run["best_epoch"],
              "best_val_loss": run["best_val_loss"], "stopped_early": run["stopped_early"],
              "steps_run": run["epochs_run"] * budget["steps_per_epoch"],
              "train_s": float(sum(v for e, v in seconds.items() if int(e) <= run["epochs_run"])),
              "epochs_timed": sum(int(e) <= run["epochs_run"] for e in seconds), "predict_s": predict_s,
              "val_loss": result.history["val_loss"], "backend": run["backend"],
              "precision": identity["training"]["precision"]}
    _save_pdfs(out / "test_pdfs.npz", pdfs, test, record)
    return pdfs, record


def _cnn_key(ds, s: CurveSettings, n: int, train, val, test) -> str:
    from .estimators.cnn.train import READS, gpu_count, run_settings
    profile, budget = s.training_profile(n), s.budget(n)
    members = [run_settings(profile, profile.seed + k, True, budget["patience"], gpu_count() > 0)
               for k in range(s.members)]
    return parts_digest("CNN", members, profile.tta, catalog.input_checksums(ds, READS), rows_digest(train),
                        rows_digest(val), rows_digest(test))


def _fit_cnn(ds, s: CurveSettings, folder: Path, n: int, train, val, test, progress, callbacks):
    from .estimators.cnn import ensemble_mean  # lazy: Keras (seconds)
    members = [_cnn_member(ds, s, folder, n, k, train, val, test, progress, callbacks) for k in range(s.members)]
    records = [r for _, r in members]
    budget = s.budget(n)
    record = {**budget, "members": s.members, "width": s.model_width, "batch_size": s.batch_size,
              "learning_rate": s.learning_rate, "tta": s.tta,
              "steps_run": [r["steps_run"] for r in records], "epochs_run": [r["epochs_run"] for r in records],
              "best_epoch": [r["best_epoch"] for r in records], "stopped_early": [r["stopped_early"] for r in records],
              "train_s": sum(r["train_s"] for r in records), "predict_s": sum(r["predict_s"] for r in records),
              "backend": records[0]["backend"], "precision": records[0]["precision"]}
    record["wall_s"] = record["train_s"] + record["predict_s"]
    return ensemble_mean([p for p, _ in members]), record


# --------------------------------------------------------------------------- the run
@dataclasses.dataclass
class CurveResult:
    """A finished (or partly finished) curve: its table, folder, settings and the files written."""

    settings: CurveSettings
    folder: Path
    table: Table
    paths: list
    wall_s: float


def run(s: "str | CurveSettings | None" = None, dataset=None, progress: bool = True, figure: bool = True,
        callbacks=(), **changes) -> CurveResult:
    """Run (or resume) the learning curve ``s`` (a preset name or :class:`CurveSettings`, with ``changes``).

    ``dataset``: a data set directory (or opened :class:`~photoz_nb.catalog.Dataset`) of the contract to use
    instead of building the curve's own simulation.  ``callbacks``: extra Keras callbacks of every CNN
    training.  Writes the points, ``results.{ecsv,json,md}`` and (``figure``) the figures into
    :func:`curve_dir`; returns them with the table (:func:`results_table`).
    """
    s = settings(s, **changes)
    folder = curve_dir(s)
    t_start = time.perf_counter()
    with safeio.FolderLock(folder):
        folder.mkdir(parents=True, exist_ok=True)
        if dataset is None:
            ds = ensure_dataset(s, folder, progress)
        else:
            ds = dataset if isinstance(dataset, catalog.Dataset) else catalog.open_dataset(
                dataset, verify_checksums=config.get_profile(s.profile).verify_checksums)
            check(s, len(ds))
            check_disk(s, folder, build=False)
        splits = make_splits(len(ds), s)
        _write_description(folder, s, ds, splits)
        todo = [(m, n) for n in s.sizes for m in METHODS if m != "CNN"] + [("CNN", n) for n in s.sizes]
        with tqdm(total=len(todo), desc=f"learning curve {s.name}", unit="fit", disable=not progress) as bar:
            for method, n in todo:
                bar.set_postfix(method=method, n=n)
                fit_point(ds, s, splits, method, n, folder, progress, callbacks)
                bar.update(1)
        table = results_table(ds, s, splits, folder)
        paths = write_results(table, folder)
        if information_table(ds, s, splits, folder) is not None:
            paths += [folder / "information.ecsv", folder / "information.md"]
        if figure:
            paths += write_figures(table, folder)
    return CurveResult(s, folder, table, paths, time.perf_counter() - t_start)


def information_table(ds, s: CurveSettings, splits: Splits, folder: Path) -> Table | None:
    """What the images could carry beyond the catalogue, beside the curve (issue 30, item 4): an RF on the
    catalogue's colours, + Petrosian size and deficit (measured on the stamps), + b/a, and on the noise-free
    truths (:func:`photoz_nb.ceiling.ceiling_table`), at the curve's sizes on its test galaxies.

    Written to ``information.{ecsv,md}`` and reused while the data set, rows and settings are the same;
    None for a data set without a simulation's truths (real images).
    """
    if not set(ceiling.TRUTH_COLUMNS) <= set(ds.catalog.colnames):
        return None
    key = parts_digest(catalog.input_checksums(ds), splits.digest(), s.sizes, s.seed, s.n_boot, ceiling.RF_SETTINGS)
    path = Path(folder) / "information.ecsv"
    if path.is_file():
        try:
            cached = Table.read(path, format="ascii.ecsv")
            if cached.meta.get("key") == key:
                return cached
        except Exception:  # unreadable: computed again and rewritten
            pass
    table = ceiling.ceiling_table(ds.catalog, s.sizes, seed=s.seed, n_boot=s.n_boot,
                                  rows=(splits.test, splits.pool))
    table.meta["key"] = key
    ceiling.write(table, folder, "information")
    return table


def fit_point(ds, s: CurveSettings, splits: Splits, method: str, n: int, folder: Path, progress: bool = False,
              callbacks=()) -> tuple[np.ndarray, dict]:
    """The test PDFs and record of ``method`` at size ``n``: read when saved under the current key, else fitted
    and saved (atomically) before returning."""
    train, val, test = splits.train(n), splits.val, splits.test
    key = (_cnn_key(ds, s, n, train, val, test) if method == "CNN"
           else _baseline_key(ds, s, method, train, val, test))
    path = point_path(folder, method, n)
    saved = _load_pdfs(path, key, test)
    if saved is not None:
        return saved
    if method == "CNN":
        pdfs, record = _fit_cnn(ds, s, folder, n, train, val, test, progress, callbacks)
    else:
        pdfs, record = _fit_baseline(ds, s, method, train, val, test)
    record = {"key": key, "method": method, "training_size": n, "n_val": len(val), "n_test": len(test), **record}
    _save_pdfs(path, pdfs, test, record)
    return pdfs, record


def _write_description(folder: Path, s: CurveSettings, ds, splits: Splits) -> None:
    buf = io.BytesIO()
    np.savez(buf, test=splits.test, val=splits.val, pool=splits.pool)
    safeio.write_atomic(folder / "splits.npz", buf.getvalue())
    safeio.write_atomic(folder / "curve.json", json.dumps({
        "settings": s.to_json(), "dataset": str(ds.path), "n_galaxies": len(ds),
        "data_sha256": catalog.input_checksums(ds), "splits": splits.digest(),
        "generator": ds.manifest.get("generator"), "version": ds.manifest.get("version")}, indent=2))


# --------------------------------------------------------------------------- the table
def _stats(z, zp, crps) -> dict:
    d = metrics.dz(zp, z)
    return {"bias": float(d.mean()), "sigma_mad": metrics.sigma_mad(d),
            "outliers_pct": 100 * float(np.mean(np.abs(d) > metrics.OUTLIER_CUT)), "crps": float(np.mean(crps))}


def _ratio(a: float, b: float) -> float:
    return float(a / b) if b != 0 and np.isfinite(b) else float("nan")


def paired_statistics(z, z_phot: dict, crps: dict) -> dict:
    """Every statistic of every method, and every comparison of :data:`COMPARISONS` whose methods are present,
    on the same galaxies: {"CNN": {"sigma_mad": ...}, "CNN-RF": {...}, "CNN/RF": {...}}.  A ratio's bias is NaN."""
    out = {m: _stats(z, z_phot[m], crps[m]) for m in z_phot}
    for label, a, b, op in COMPARISONS:
        if a in out and b in out:
            out[label] = {k: (out[a][k] - out[b][k] if op == "difference"
                              else (_ratio(out[a][k], out[b][k]) if k != "bias" else float("nan"))) for k in STATS}
    return out


def paired_bootstrap(z, z_phot: dict, crps: dict, n_boot: int = 200, seed: int = 0) -> dict:
    """Standard errors of :func:`paired_statistics` from ``n_boot`` resamples of the galaxies, the same
    resampled galaxies for every method (:func:`photoz_nb.stats.bootstrap` resamples its arrays together)."""
    methods = list(z_phot)
    arrays = [np.asarray(z, float)] + [np.asarray(z_phot[m], float) for m in methods] + \
             [np.asarray(crps[m], float) for m in methods]
    k = len(methods)

    def flat(z_, *rest):
        stats = paired_statistics(z_, dict(zip(methods, rest[:k])), dict(zip(methods, rest[k:])))
        return {f"{label}|{s}": v for label, row in stats.items() for s, v in row.items()}

    errors = bootstrap(flat, *arrays, n_boot=n_boot, seed=seed)
    out = {}
    for name, err in errors.items():
        label, stat = name.split("|")
        out.setdefault(label, {})[stat] = err
    return out


#: Columns of the results table, in order.
COLUMNS = ("training_size", "subset", "method", "n_test", *(c for s in STATS for c in (s, f"{s}_err")),
           "steps_budget", "steps_run", "epochs_budget", "epochs_run", "best_epoch", "stop", "members",
           "train_s", "wall_s")


def results_table(ds, s: CurveSettings, splits: Splits, folder: Path) -> Table:
    """One row per (size, subset, method or comparison) from the saved points whose key is current.

    ``method``: CNN, kNN, RF, then CNN-kNN, CNN-RF (differences) and CNN/kNN, CNN/RF (ratios; bias NaN).  Each
    statistic has a paired bootstrap error (``*_err``; ``s.n_boot`` resamples seeded by ``s.seed``).  Budget
    columns: the CNN's steps and epochs planned and run (summed over members), its best epoch, ``stop``
    ("early" when every member stopped on its validation loss, else "budget"), members, training and
    wall time [s]; a baseline has 0 steps and its fit + predict time.
    """
    test = splits.test
    z = ds.column("z_spec")[test]
    masks = colour_subsets(ds, test)
    edges = config.redshift_edges()
    rows = []
    for n in s.sizes:
        train, val = splits.train(n), splits.val
        found = {}
        for method in METHODS:
            key = (_cnn_key(ds, s, n, train, val, test) if method == "CNN"
                   else _baseline_key(ds, s, method, train, val, test))
            saved = _load_pdfs(point_path(folder, method, n), key, test)
            if saved is not None:
                found[method] = saved
        if not found:
            continue
        zp = {m: pdf.point_estimate(p, edges, "mean") for m, (p, _) in found.items()}
        cr = {m: pdf.crps(p, edges, z) for m, (p, _) in found.items()}
        for subset in SUBSETS:
            mask = masks[subset]
            if mask.sum() < 2:
                continue
            zs, zps, crs = z[mask], {m: v[mask] for m, v in zp.items()}, {m: v[mask] for m, v in cr.items()}
            values = paired_statistics(zs, zps, crs)
            errors = paired_bootstrap(zs, zps, crs, n_boot=s.n_boot, seed=s.seed)
            for label, stats in values.items():
                rows.append(_row(n, subset, label, int(mask.sum()), stats, errors[label],
                                 found[label][1] if label in found else None))
    table = Table(rows=rows, names=COLUMNS, dtype=[int, str, str, int] + [float] * 8 +
                  [int, int, int, int, int, str, int, float, float]) if rows else \
        Table(names=COLUMNS, dtype=[int, str, str, int] + [float] * 8 + [int, int, int, int, int, str, int, float, float])
    table["outliers_pct"].unit = table["outliers_pct_err"].unit = "%"
    table["train_s"].unit = table["wall_s"].unit = "s"
    table.meta.update({"curve": s.name, "settings": s.to_json(), "n_test": len(test), "n_val": len(splits.val),
                       "pool": len(splits.pool), "point_estimate": "mean of the PDF on bin centres",
                       "outlier_cut": metrics.OUTLIER_CUT, "red_blue_cut_u_minus_r": EARLY_TYPE_U_MINUS_R,
                       "bootstrap": f"paired, {s.n_boot} resamples within each subset, seed {s.seed}",
                       "dataset": str(ds.path), "data_version": ds.manifest.get("version")})
    return table


def _row(n, subset, label, n_test, stats, errors, record) -> tuple:
    budget = (0, 0, 0, 0, 0, "", 0, float("nan"), float("nan"))
    if record is not None and label == "CNN":
        budget = (record["steps_budget"] * record["members"], sum(record["steps_run"]),
                  record["epochs_budget"], int(max(record["epochs_run"])), int(max(record["best_epoch"])),
                  "early" if all(record["stopped_early"]) else "budget", record["members"],
                  record["train_s"], record["wall_s"])
    elif record is not None:
        budget = (0, 0, 0, 0, 0, "n/a", 1, record["fit_s"], record["wall_s"])
    values = [v for st in STATS for v in (stats[st], errors.get(st, float("nan")))]
    return (n, subset, label, n_test, *values, *budget)


# --------------------------------------------------------------------------- where the curves cross
def _log_crossing(n, r) -> float | None:
    """The size where the piecewise log-linear curve ``r(log n)`` first goes from above 1 to at or below it."""
    for i in range(len(n) - 1):
        if r[i] > 1 >= r[i + 1]:
            t = (r[i] - 1) / (r[i] - r[i + 1])
            return float(10 ** (np.log10(n[i]) + t * (np.log10(n[i + 1]) - np.log10(n[i]))))
    return None


def crossing(table: Table, subset: str = "all", versus: str = "RF") -> dict:
    """Where the CNN's sigma_MAD falls below ``versus``'s: the ratio CNN/``versus`` against training size.

    Returns ``{"sizes", "ratio", "ratio_err", "n_cross", "n_cross_range", "paper_n_cross", "sentence"}``:
    ``n_cross`` the size where the ratio, interpolated linearly in log size, first reaches 1 (None when it
    does not within the sizes run), ``n_cross_range`` the same for ratio - error and ratio + error (a 1-sigma
    range; None at an end that does not cross), and the paper's crossing of CNN/B16 the same way.
    """
    label = f"CNN/{versus}"
    rows = table[(np.asarray(table["subset"]).astype(str) == subset) & (np.asarray(table["method"]).astype(str) == label)]
    rows = rows[np.argsort(rows["training_size"])]
    n = np.asarray(rows["training_size"], float)
    r, e = np.asarray(rows["sigma_mad"], float), np.asarray(rows["sigma_mad_err"], float)
    paper_n = sorted(PAPER_CNN)
    paper = _log_crossing(paper_n, [PAPER_CNN[k]["sigma_mad"] / PAPER_B16["sigma_mad"] for k in paper_n])
    out = {"sizes": n.tolist(), "ratio": r.tolist(), "ratio_err": e.tolist(), "n_cross": _log_crossing(n, r) if len(n) else None,
           "n_cross_range": (_log_crossing(n, r - e), _log_crossing(n, r + e)) if len(n) else (None, None),
           "paper_n_cross": paper}
    paper_text = f"the paper's CNN/B16 crosses 1 at about {paper:,.0f} galaxies (1.07 at 10,100, 0.68 at 99,001)"
    if not len(n):
        out["sentence"] = f"no CNN/{versus} ratio in the table yet; {paper_text}"
    elif out["n_cross"] is not None:
        lo, hi = out["n_cross_range"]
        span = (f" (1 sigma: {'below ' + format(n[0], ',.0f') if lo is None else format(lo, ',.0f')} to "
                f"{'beyond ' + format(n[-1], ',.0f') if hi is None else format(hi, ',.0f')})")
        out["sentence"] = (f"CNN/{versus} sigma_MAD ({subset} test galaxies) crosses 1 at about {out['n_cross']:,.0f} "
                           f"training galaxies{span}; {paper_text}")
    else:
        side = "above" if r[-1] > 1 else "below"
        out["sentence"] = (f"CNN/{versus} sigma_MAD ({subset} test galaxies) stays {side} 1 from {n[0]:,.0f} to "
                           f"{n[-1]:,.0f} training galaxies ({r[0]:.3f} ± {e[0]:.3f} to {r[-1]:.3f} ± {e[-1]:.3f}): "
                           f"the curves do not cross within the sizes run; {paper_text}")
    return out


# --------------------------------------------------------------------------- outputs
def write_results(table: Table, folder: Path) -> list[Path]:
    """``results.ecsv`` (full precision), ``results.json`` (rows and meta) and ``results.md``, atomically."""
    folder = Path(folder)
    paths = [folder / f"results.{ext}" for ext in ("ecsv", "json", "md")]
    safeio.write_table(paths[0], table)
    rows = [{c: _plain(row[c]) for c in table.colnames} for row in table]
    safeio.write_atomic(paths[1], json.dumps(_plain({"meta": dict(table.meta), "rows": rows}), indent=1,
                                             allow_nan=False))
    safeio.write_atomic(paths[2], to_markdown(table))
    return paths


def _plain(value):
    """``value`` with numpy scalars as Python numbers and NaN/inf as None (strict JSON)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def load(name_or_folder) -> Table:
    """The results table of a finished curve (a preset/curve name, or its folder)."""
    folder = Path(name_or_folder)
    if not (folder / "results.ecsv").exists():
        folder = config.data_root() / "learning_curve" / str(name_or_folder)
    path = folder / "results.ecsv"
    if not path.exists():
        raise FileNotFoundError(errno.ENOENT, "no learning-curve results here; run `photoz-nb learning-curve`", str(path))
    return Table.read(path, format="ascii.ecsv")


def write_figures(table: Table, folder: Path) -> list[Path]:
    """``learning_curve.pdf/png`` (all test galaxies) and ``learning_curve_red``, ``_blue`` (by colour)."""
    paths = []
    for subset in SUBSETS:
        if (table["subset"] == subset).any():
            fig = plots.learning_curve_comparison(table, subset=subset)
            paths += plots.save_figure(fig, folder, "learning_curve" if subset == "all" else f"learning_curve_{subset}")
    return paths


#: Order of the methods in the Markdown tables.
SHOWN = ("CNN", "kNN", "RF")


def to_markdown(table: Table) -> str:
    """The table as Markdown: per subset, the three methods' sigma_MAD, outliers and CRPS with the CNN/RF ratio;
    the paired differences; then the CNN's budget per size."""
    out = []
    for subset in SUBSETS:
        rows = table[table["subset"] == subset]
        if not len(rows):
            continue
        get = {(int(r["training_size"]), str(r["method"])): r for r in rows}
        sizes = sorted({int(n) for n in rows["training_size"]})
        n_test = int(rows["n_test"][0])

        def cell(n, method, stat, fmt):
            r = get.get((n, method))
            return "" if r is None else plus_minus(float(r[stat]), float(r[f"{stat}_err"]), fmt)

        fmts = {"sigma_mad": ".5f", "outliers_pct": ".2f", "crps": ".5f", "bias": "+.5f"}
        out.append(f"### {subset} test galaxies ({n_test:,}; "
                   f"{'u - r > 2.22' if subset == 'red' else 'u - r <= 2.22' if subset == 'blue' else 'every colour'})\n")
        headers = ["training size"] + [f"σ_MAD {m}" for m in SHOWN] + ["σ_MAD CNN/RF"] + \
                  [f"outliers % {m}" for m in SHOWN] + [f"CRPS {m}" for m in SHOWN]
        cells = [[f"{n:,}"] + [cell(n, m, "sigma_mad", fmts["sigma_mad"]) for m in SHOWN]
                 + [cell(n, "CNN/RF", "sigma_mad", ".3f")]
                 + [cell(n, m, "outliers_pct", fmts["outliers_pct"]) for m in SHOWN]
                 + [cell(n, m, "crps", fmts["crps"]) for m in SHOWN] for n in sizes]
        out.append(markdown_table(cells, headers=headers, align=["---:"] * len(headers)) + "\n")
        headers = ["training size"] + [f"{s} {c}" for s in ("Δσ_MAD", "Δoutliers %", "ΔCRPS")
                                       for c in ("CNN-kNN", "CNN-RF")] + [f"bias {m}" for m in SHOWN]
        cells = [[f"{n:,}"] + [cell(n, c, st, fmts[st]) for st in ("sigma_mad", "outliers_pct", "crps")
                               for c in ("CNN-kNN", "CNN-RF")] + [cell(n, m, "bias", fmts["bias"]) for m in SHOWN]
                 for n in sizes]
        out.append(markdown_table(cells, headers=headers, align=["---:"] * len(headers)) + "\n")
    cnn = table[(table["subset"] == "all") & (table["method"] == "CNN")]
    if len(cnn):
        out.append("### CNN training budget\n")
        headers = ["training size", "members", "steps planned", "steps run", "epochs planned", "epochs run",
                   "best epoch", "stopped", "training [min]", "wall [min]", "kNN + RF wall [s]"]
        base = {(int(r["training_size"]), str(r["method"])): r for r in table[table["subset"] == "all"]}
        cells = [[f"{int(r['training_size']):,}", int(r["members"]), f"{int(r['steps_budget']):,}",
                  f"{int(r['steps_run']):,}", int(r["epochs_budget"]), int(r["epochs_run"]), int(r["best_epoch"]),
                  "early (val loss)" if r["stop"] == "early" else "at the budget", f"{r['train_s'] / 60:.1f}",
                  f"{r['wall_s'] / 60:.1f}",
                  f"{_baseline_wall(base, int(r['training_size'])):.1f}"] for r in cnn]
        out.append(markdown_table(cells, headers=headers, align=["---:"] * len(headers)) + "\n")
        total = float(np.nansum(table[table["subset"] == "all"]["wall_s"]))
        out.append(f"Total fit and predict time of the points: {total / 60:.1f} min.\n")
    if (table["method"] == "CNN/RF").any():
        out.append("**Crossing.** " + "; ".join(crossing(table, sub)["sentence"].split("; ")[0] for sub in SUBSETS
                                                if ((table["subset"] == sub) & (table["method"] == "CNN/RF")).any())
                   + f"; {crossing(table)['sentence'].split('; ')[-1]}.\n")
    meta = table.meta
    out.append(f"sigma_MAD, outliers (|dz| > {meta.get('outlier_cut', 0.05)}) and bias of "
               "dz = (z_phot - z_spec)/(1 + z_spec), z_phot the PDF mean on bin centres; CRPS the mean over galaxies. "
               f"Errors: {meta.get('bootstrap', 'bootstrap')} (the same galaxies for every method, so differences "
               "and ratios carry their paired errors).\n")
    return "\n".join(out)


def _baseline_wall(rows: dict, n: int) -> float:
    """kNN + RF fit and predict time [s] at size ``n`` (``rows``: (size, method) -> row)."""
    return sum(float(rows[(n, m)]["wall_s"]) for m in ("kNN", "RF") if (n, m) in rows)


# --------------------------------------------------------------------------- the command
def _csv_ints(text: str | None):
    if text is None:
        return None
    try:
        return tuple(int(v.replace("_", "")) for v in text.split(",") if v.strip())
    except ValueError:
        raise CurveError(f"--sizes must be comma-separated integers like 1000,3000,10000, got {text!r}") from None


def cli_settings(args) -> CurveSettings:
    """The settings of ``photoz-nb learning-curve``: ``--curve`` (default the preset of ``--profile``) with the options
    given.  The profile only picks the preset: each preset keeps its own base profile (the tag of its simulated
    data set, whether checksums are verified), so that the same curve never rebuilds its data for a flag."""
    preset = args.curve or PROFILE_PRESETS[config.get_profile(args.profile).name]
    changes = {k: v for k, v in {
        "name": args.name, "sizes": _csv_ints(args.sizes), "n_test": args.n_test, "n_val": args.n_val,
        "n_galaxies": args.n_galaxies, "members": args.members, "model_width": args.width,
        "steps_per_galaxy": args.steps_per_galaxy, "min_steps": args.min_steps, "max_steps": args.max_steps,
        "patience_steps": args.patience_steps,
        "sigma_rel_error": args.sigma_rel_error, "n_boot": args.n_boot, "seed": args.seed}.items() if v is not None}
    if args.name is None and changes:
        raise CurveError("options that change the curve need --name NAME (its own folder), so that the preset's "
                         f"folder {preset!r} keeps the preset's points")
    return settings(preset, **changes)


def cli_run(args) -> int:
    """``photoz-nb learning-curve``: print the plan, run or resume the curve, print the table and the files."""
    s = cli_settings(args)
    if args.dataset is None:
        check(s)
    plan = s.plan()
    data = f"(given) {args.dataset}" if args.dataset else f"{s.dataset_size:,} galaxies"
    print(f"learning curve {s.name!r}: sizes {', '.join(f'{n:,}' for n in s.sizes)}; {s.n_test:,} test and "
          f"{s.n_val:,} validation galaxies; data set {data}; Net_P width {s.model_width}, batch {s.batch_size}, "
          f"{s.members} member(s); steps = clip({s.steps_per_galaxy} x n, {s.min_steps:,}, {s.max_steps:,}); "
          f"folder {curve_dir(s)}")
    print(markdown_table([[f"{r['training_size']:,}", f"{r['steps_budget']:,}", r["epochs_budget"], r["patience"],
                           r["members"], f"{r['est_train_min']:.1f}", f"{r['est_predict_min']:.1f}"] for r in plan],
                         headers=["training size", "steps (whole epochs)", "epochs", "patience [epochs]", "members",
                                  f"training at {CPU_TRAIN_IMG_PER_S:.0f} img/s [min]",
                                  f"validation + test at {CPU_PREDICT_IMG_PER_S:.0f} img/s [min]"]))
    total = float(np.sum(plan["est_train_min"]) + np.sum(plan["est_predict_min"]))
    print(f"whole budget: about {total / 60:.1f} h of CNN time at those rates on 2 CPU cores (`photoz-nb bench "
          "backends`, width 0.25, batch 64: other widths and machines differ; early stopping shortens it)")
    if args.plan:
        if args.dataset is None:
            check_disk(s, curve_dir(s), build=not (curve_dir(s) / "dataset").exists())
        return 0
    result = run(s, dataset=args.dataset, figure=not args.no_figure)
    print()
    print(to_markdown(result.table))
    print(f"learning curve {s.name!r} done in {result.wall_s / 60:.1f} min (this session); written: "
          + ", ".join(str(p) for p in result.paths))
    return 0


__all__ = ["BASELINES", "COMPARISONS", "CurveError", "CurveResult", "CurveSettings", "DEFAULT_SIZES", "METHODS",
           "NoRoomOnDisk", "PAPER_B16", "PAPER_CNN", "PRESETS", "SIGMA_MAD_REL_ERROR", "SUBSETS", "STATS",
           "SizeTooLarge", "Splits", "TestSplitTooSmall", "check", "check_disk", "colour_subsets", "crossing", "curve_dir",
           "disk_needed", "ensure_dataset", "fit_point", "load", "make_splits", "paired_bootstrap",
           "paired_statistics", "required_test_size", "results_table", "run", "settings", "to_markdown",
           "write_figures", "write_results", "cli_run", "cli_settings"]
