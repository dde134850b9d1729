"""Where things live on disk: the checkout, its data folder, the developer's shared folder, the SDSS sample.

``$PHOTOZ_HOME`` moves the data and figures; ``$PHOTOZ_SHARED`` the developer's shared folder.
"""
from __future__ import annotations

import os
from pathlib import Path

from . import datafiles


def project_root() -> Path:
    """``$PHOTOZ_HOME`` if set, else the checkout holding this package, else the cwd."""
    if os.environ.get("PHOTOZ_HOME"):
        return Path(os.environ["PHOTOZ_HOME"]).resolve()
    checkout = Path(__file__).resolve().parent.parent
    if (checkout / "pyproject.toml").exists():
        return checkout
    return Path.cwd()


def data_root() -> Path:
    return project_root() / "data"


def shared_dir() -> Path:
    """A developer's ``shared/`` folder beside the checkout (more SDSS fields, for calibration scripts
    only: the tests and notebooks read :func:`sample_frames_dir`)."""
    return Path(os.environ.get("PHOTOZ_SHARED", project_root().parent / "shared"))


def sample_frames_dir() -> Path:
    """The real SDSS sample committed in ``data/sdss_sample`` (fields 004510-4-0030 and 007264-3-0111 in
    ugriz, a calibObj star list, a photoField table), every file checked against its sha256 registry;
    a missing file is downloaded from the SDSS archive first (see :mod:`photoz_nb.datafiles`)."""
    return datafiles.verified_sample_dir()
