"""The ``photoz-nb sdss`` steps that chain the submodules: query, fetch frames, and notebook 01's
:func:`prepare_real_dataset` (reuse the data set when current, else build it)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from astropy.table import Table

from .. import catalog as contract
from .. import config, safeio
from ..stats import require_columns
from . import build
from .build import build_cutout_dataset
from .cube import import_cube
from .frames import DEFAULT_MAX_DOWNLOADS, FrameCache, fetch_for
from .query import query_sample, to_contract


def _read_catalog(catalog) -> Table:
    return catalog if isinstance(catalog, Table) else Table.read(catalog)


def query_catalog(out, cache_dir=None, page_size: int = 50_000, data_release: int = 12, max_pages: int | None = None,
          fractions=(0.72, 0.08, 0.2), seed: int = 0, query_fn=None, progress: bool = True,
          skyserver_url: str | None = None) -> Path:
    """Run the paper's sample query (paged, cached in ``cache_dir``, resumable) and write the
    contract catalogue to ``out`` (FITS).  Default cache: ``<out>.pages/`` beside ``out``.
    ``skyserver_url``: SkyServer base URL (default ``$PHOTOZ_SKYSERVER_URL``, else the public one)."""
    out = Path(out)
    cache_dir = Path(cache_dir) if cache_dir else out.with_name(out.name + ".pages")
    rows = query_sample(cache_dir, query_fn, page_size=page_size, max_pages=max_pages,
                        data_release=data_release, progress=progress, skyserver_url=skyserver_url)
    cat = to_contract(rows, fractions, seed, where=f"SkyServer sample cached in {cache_dir}")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp.fits")
    cat.write(tmp, overwrite=True)
    safeio.replace_file(tmp, out)
    return out


def _fields(cat: Table) -> list[tuple[int, int, int]]:
    require_columns(cat, ("run", "camcol", "field"), "catalogue", " needed to find its SDSS frames")
    keys = {(int(r), int(c), int(f)) for r, c, f in zip(cat["run"], cat["camcol"], cat["field"])}
    return sorted(keys)


def fetch_frames(catalog, frames_dir, bands=config.BANDS, max_workers: int = DEFAULT_MAX_DOWNLOADS, mirror=None,
           progress: bool = True, sas_url: str | None = None) -> list[Path]:
    """Fetch and verify every frame the catalogue's (run, camcol, field) rows need.

    ``mirror``: a local directory of frames to copy from instead of downloading.
    ``sas_url``: SAS base URL (default ``$PHOTOZ_SAS_URL``, else the public SAS).
    ``max_workers``: downloads at once (default 4).
    """
    cache = FrameCache(frames_dir, fetch=fetch_for(mirror), base=sas_url, max_downloads=max_workers)
    keys = [(b, *field) for field in _fields(_read_catalog(catalog)) for b in bands]
    return cache.get_many(keys, max_workers=max_workers, progress=progress)


# -- notebook 01: one call per data source ---------------------------------------------------------
SOURCES = ("sdss", "cube")


def prepare_real_dataset(source: str, profile=None, *, catalog=None, frames_dir=None, mirror=None, cube=None,
                         out=None, workers: int | None = None, scheduler: str | None = None,
                         progress: bool = True, sas_url: str | None = None, skyserver_url: str | None = None,
                         **cube_options) -> Path:
    """The data set of real SDSS images for a profile: reused when current, else built.

    Parameters
    ----------
    source : "sdss" (cutouts from SDSS frames) or "cube" (the authors' public ``sdss.npz``).
    profile : Profile or name; gives the default paths ``data/<profile>/<source>/``, the split
        fractions and seed, and (if not None) the number of galaxies drawn from the catalogue.
    catalog : ("sdss") catalogue FITS/ECSV with the contract columns + run/camcol/field (a
        ``split`` column is drawn when absent); default: the paper's SkyServer query (network).
    frames_dir : ("sdss") frame cache; default ``data/sdss_frames`` (shared by all profiles).
    mirror : ("sdss") a local folder of frames to copy from instead of downloading.
    cube : ("cube") path of the ``.npz`` cube; ``cube_options`` go to :func:`import_cube`.
    workers, scheduler : ("sdss") parallelism of :func:`build_cutout_dataset`.
    sas_url, skyserver_url : ("sdss") where frames and the sample query come from (default: the
        environment variables ``PHOTOZ_SAS_URL`` / ``PHOTOZ_SKYSERVER_URL``, else the public services).

    Returns
    -------
    Path of a data set in the contract (open it with :func:`photoz_nb.catalog.open_dataset`).
    """
    if source not in SOURCES:
        raise ValueError(f"data source must be one of {SOURCES} (or 'simulation', handled by "
                         f"photoz_nb.pipeline.dataset), got {source!r}")
    profile = config.get_profile(profile)
    out = Path(out) if out is not None else profile.data_dir / source / "dataset"
    if source == "cube":
        if cube is None:
            raise ValueError("data source 'cube' needs cube=<path of the public sdss.npz cube>")
        return _prepared_cube(Path(cube), out, profile, progress, cube_options)
    if cube_options:
        raise TypeError(f"unexpected option(s) for data source 'sdss': {sorted(cube_options)}")
    cat = _profile_catalog(catalog, profile, out, progress, skyserver_url)
    frames_dir = Path(frames_dir) if frames_dir is not None else config.data_root() / "sdss_frames"
    if contract.is_current(out, {"generator": build.GENERATOR,
                                 "input_catalog": build.catalog_digest(build.sort_by_field(cat))},
                           profile.verify_checksums):
        return out
    return build_cutout_dataset(cat, frames_dir, out, mirror=mirror, workers=workers, scheduler=scheduler,
                                progress=progress, sas_url=sas_url)


def _profile_catalog(catalog, profile: config.Profile, out: Path, progress: bool, skyserver_url=None) -> Table:
    """The catalogue to cut: given or queried, with splits, subsampled to the profile's size."""
    if catalog is None:
        catalog = query_catalog(out.parent / "catalog.fits", fractions=profile.split_fractions, seed=profile.seed,
                                progress=progress, skyserver_url=skyserver_url)
    cat = _read_catalog(catalog)
    n = profile.n_galaxies
    if n is not None and len(cat) > n:
        cat = cat[np.sort(np.random.default_rng(profile.seed).choice(len(cat), n, replace=False))]
    if "split" not in cat.colnames:
        cat["split"] = contract.assign_splits(len(cat), profile.split_fractions, profile.seed)
    return cat


def _prepared_cube(cube: Path, out: Path, profile: config.Profile, progress: bool, options: dict) -> Path:
    options.setdefault("fractions", profile.split_fractions)
    options.setdefault("seed", profile.seed)
    if contract.is_current(out, {"generator": "photoz_nb.sdss.cube.import_cube", "source": str(cube.resolve()),
                                 "seed": options["seed"]}, profile.verify_checksums):
        return out
    return import_cube(cube, out, progress=progress, **options)
