"""The real SDSS data path: sample query, frame cache, cutouts and the authors' public cube.

One function per ``photoz-nb sdss`` command:

* ``query``       :func:`query_catalog`  SkyServer sample -> catalogue FITS (contract columns + run/camcol/field)
* ``frames``      :func:`fetch_frames`   download (or copy from a mirror) every frame a catalogue needs
* ``cutouts``     :func:`build_cutout_dataset`  catalogue + frames -> data set, one task per field, in
  parallel (local processes or dask); flagged rows listed in ``<out>.flagged.ecsv``, not written
* ``import-cube`` :func:`import_cube`    the public ``sdss.npz`` cube -> data set directory

:func:`prepare_real_dataset` chains them for notebook 01 (``data_source = "sdss" | "cube"``).

This package only re-exports: the logic is in the submodules ``frames``, ``cutouts``, ``build``, ``query``,
``cube``, ``prepare`` (the chained steps), ``stars`` and ``sources``.
"""
from .build import build_cutout_dataset
from .cube import import_cube
from .cutouts import FieldFrames, cutout, make_cutouts
from .frames import FrameCache, FrameError, fetch_for, frame_name, frame_url, local_fetch, read_frame
from .prepare import SOURCES, fetch_frames, prepare_real_dataset, query_catalog
from .query import query_sample, to_contract

__all__ = ["query_catalog", "fetch_frames", "build_cutout_dataset", "import_cube", "prepare_real_dataset", "cutout",
           "make_cutouts", "read_frame", "frame_name", "frame_url", "FrameCache", "FrameError", "FieldFrames",
           "local_fetch", "fetch_for", "query_sample", "to_contract", "SOURCES"]
