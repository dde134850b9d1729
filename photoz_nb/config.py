"""Profiles, the redshift grid and seeds: every tunable number lives here (folders: :mod:`photoz_nb.paths`).

One switch selects a profile: the environment variable ``PHOTOZ_PROFILE`` (also a
papermill parameter of every notebook).  ``smoke`` is for tests and CI, ``small`` is the
CPU tutorial, ``paper`` is the published configuration for a GPU.  All three run the
same code path; only sizes change.
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np

from .paths import data_root, project_root, sample_frames_dir, shared_dir  # noqa: F401 (config.X still works)

#: Redshift grid of the paper: 180 bins of equal width on [0, 0.4].
N_BINS = 180
Z_MIN, Z_MAX = 0.0, 0.4
#: Image geometry of the paper: 64x64 pixels of 0.396 arcsec in u, g, r, i, z.
BANDS = ("u", "g", "r", "i", "z")
STAMP = 64
PIXEL_SCALE = 0.396  # arcsec / pixel
#: SDSS A_band / E(B-V) (Schlegel, Finkbeiner & Davis 1998 as used by SDSS).
EXTINCTION_COEFF = {"u": 5.155, "g": 3.793, "r": 2.751, "i": 2.086, "z": 1.479}
#: Selection of the Main Galaxy Sample used by the paper.
R_PETRO_MAX = 17.8

#: Measured with ``photoz-nb bench backends`` on 2 CPU cores (Net_P width 0.25, batch 64):
#: TensorFlow trains ~1.9x faster than JAX and ~2.4x faster than torch (train img/s
#: 423 / 212 / 169, predict 1337 / 648 / 423).  ``KERAS_BACKEND`` overrides it.
DEFAULT_BACKEND = "tensorflow"


def band_index(band: str) -> int:
    """Position of ``band`` in :data:`BANDS`; a clear error for anything else."""
    try:
        return BANDS.index(band)
    except ValueError:
        raise ValueError(f"unknown band {band!r}; expected one of {', '.join(BANDS)}") from None


def redshift_edges(n_bins: int = N_BINS, z_min: float = Z_MIN, z_max: float = Z_MAX) -> np.ndarray:
    """Bin edges of the PDF grid (length ``n_bins + 1``)."""
    return np.linspace(z_min, z_max, n_bins + 1)


@dataclasses.dataclass(frozen=True)
class Profile:
    """Sizes of one run of the whole chain."""

    name: str
    n_galaxies: int | None  # None: every galaxy the generator can make
    split_fractions: tuple[float, float, float]  # train, val, test
    model_width: float  # multiplier on Net_P's feature maps
    epochs: int
    batch_size: int
    learning_rate: float
    ensemble_size: int = 1  # independently seeded CNNs whose PDFs are averaged
    ebv_seeds: int = 1  # seeds of the reddening test: ensemble members and their twins trained without E(B-V)
    tta: bool = False  # predict with the mean PDF over the 8 rotations/flips of each cutout
    seed: int = 20190101
    verify_checksums: bool = True

    @property
    def data_dir(self) -> Path:
        return data_root() / self.name

    @property
    def dataset_dir(self) -> Path:
        return self.data_dir / "dataset"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def predictions_dir(self) -> Path:
        return self.data_dir / "predictions"

    @property
    def figures_dir(self) -> Path:
        return project_root() / "figures" / self.name


# Training numbers measured on 2 CPU cores, TensorFlow backend: a smoke model trains in ~40-60 s (early-stops
# at epoch 17, best at 11, the lr dropping at epochs 10 and 20; 15 epochs leave its PDFs too wide for notebook
# 03's bounds); small (7,065 training galaxies) plateaus in val_loss by epoch ~15 of 30 (~19 s per epoch,
# under 10 min in all; JAX takes about twice as long).
PROFILES = {
    "smoke": Profile("smoke", n_galaxies=1200, split_fractions=(0.7, 0.1, 0.2),
                     model_width=0.125, epochs=30, batch_size=64, learning_rate=1e-3, ensemble_size=2),
    "small": Profile("small", n_galaxies=None, split_fractions=(0.72, 0.08, 0.2),
                     model_width=0.25, epochs=30, batch_size=64, learning_rate=1e-3, ensemble_size=3, tta=True,
                     ebv_seeds=3),
    "paper": Profile("paper", n_galaxies=516_525, split_fractions=(0.72, 0.08, 0.2),
                     model_width=1.0, epochs=60, batch_size=128, learning_rate=1e-4, ensemble_size=5, tta=True,
                     ebv_seeds=3, verify_checksums=False),
}


def get_profile(name: "str | Profile | None" = None) -> Profile:
    """The profile called ``name`` (a Profile passes through), else ``$PHOTOZ_PROFILE``, else ``small``."""
    if isinstance(name, Profile):
        return name
    if name is not None and not isinstance(name, str):
        raise TypeError(f"profile must be a photoz_nb.config.Profile or a profile name, got {type(name).__name__}")
    name = name or os.environ.get("PHOTOZ_PROFILE") or "small"
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown profile {name!r}; expected one of {sorted(PROFILES)} "
                         "(set PHOTOZ_PROFILE or pass profile=...)") from None
