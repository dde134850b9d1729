"""A user's own data in, standard PDFs out: cutouts and catalogues read, checked, and run through a model.

Images follow the data contract (:mod:`photoz_nb.catalog`): N x 64 x 64 x 5 float cutouts in
nanomaggies, bands u, g, r, i, z in that order, channels last.  They may come as

* ``.npy``: an (N, 64, 64, 5) array, or (N, 5, 64, 64) channels first (announced, never silent);
* FITS: one image HDU holding such a cube (band order from the header keywords ``BANDS`` or
  ``FILTER1..FILTER5`` when present), or one image HDU per band, (N, 64, 64) each, named by its
  ``FILTER`` keyword.  ``BUNIT``, when present, must say nanomaggies.

Every check fails with an error naming the file, the shape, the row or the band: wrong shape,
NaN/inf pixels, band order (labels that disagree with ``bands=``, or fluxes ordered like a
reversed cube), units (a sky level or noise implausible for sky-subtracted nanomaggies, e.g.
raw counts), and a model that expects another input shape or grid.

Catalogues (FITS, CSV, ECSV or Parquet) are read by :func:`read_table`.  Photometric catalogues for
the baselines are checked row by row by :func:`check_photometry` / :func:`check_labels`.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from astropy.io import fits
from astropy.table import Table

from . import catalog, config, pdf
from .dust import sfd_ebv
from .stats import MAD_TO_SIGMA, markdown_table
from .checks import InputError as UserDataError  # noqa: F401 (the error users catch)
from .checks import check_ebv, check_labels, check_photometry, column, first_bad

#: Spellings of nanomaggies accepted in a FITS ``BUNIT``.
NANOMAGGY_UNITS = {"nanomaggy", "nanomaggies", "nmgy", "nanomaggie"}
#: Plausible robust sky noise per pixel of SDSS cutouts in nanomaggies (measured: 0.013 (g) to 0.145 (z) in
#: the shared frames, see tests/test_userdata.py), with a wide margin either side.  Raw counts
#: (noise of several DN, sky ~100 DN when not subtracted) or Jansky (~1e-7) fall outside.
SKY_NOISE_RANGE = (1e-4, 2.0)
#: |median sky level| above this many nanomaggies means the sky was not subtracted (or not nmgy).
SKY_LEVEL_MAX = 1.0
#: Border of each stamp (pixels) whose pixels estimate the sky.
SKY_BORDER = 4
#: Galaxies needed before the band-order heuristic is trusted.
MIN_GALAXIES_FOR_BAND_CHECK = 10
TABLE_SUFFIXES = {".fits": "fits", ".fit": "fits", ".fits.gz": "fits", ".csv": "ascii.csv",
                  ".ecsv": "ascii.ecsv", ".parquet": "parquet", ".pq": "parquet"}


# ---------------------------------------------------------------- tables

def _suffix(path: Path) -> str:
    name = path.name.lower()
    return ".fits.gz" if name.endswith(".fits.gz") else path.suffix.lower()


def read_table(path):
    """An astropy Table from FITS, CSV, ECSV or Parquet (picked by the suffix)."""
    path = Path(path)
    fmt = TABLE_SUFFIXES.get(_suffix(path))
    if fmt is None:
        raise UserDataError(f"{path}: unknown catalogue format {_suffix(path)!r}; use one of {sorted(TABLE_SUFFIXES)}")
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such catalogue")
    if fmt == "parquet":
        try:
            import pyarrow  # noqa: F401  (optional extra [userdata]: only Parquet needs it)
        except ImportError as exc:
            raise ImportError("reading Parquet needs pyarrow: pip install 'photoz-nb[userdata]'") from exc
    return Table.read(path, format=fmt)


# ---------------------------------------------------------------- images

@dataclasses.dataclass
class Images:
    """Cutouts in the contract's layout (N, 64, 64, 5) ugriz, float32, and how they were read."""

    pixels: np.ndarray
    path: Path
    notes: list


def parse_bands(text) -> tuple[str, ...] | None:
    """``"ugriz"``, ``"u,g,r,i,z"`` or a sequence -> tuple of band names; None passes through."""
    if text is None:
        return None
    if isinstance(text, str):
        text = text.replace(",", " ").split() if ("," in text or " " in text) else list(text)
    return tuple(str(b).strip().lower() for b in text)


def _fits_cube(path: Path):
    """(array, band labels or None, BUNIT or None) of a FITS file of cutouts."""
    with fits.open(path, memmap=False) as hdul:
        images = [h for h in hdul if h.data is not None and getattr(h, "is_image", True) and h.data.ndim >= 2]
        if not images:
            raise UserDataError(f"{path}: no image HDU holding cutouts")
        units = {str(h.header["BUNIT"]).strip() for h in images if "BUNIT" in h.header}
        bunit = units.pop() if len(units) == 1 else (sorted(units) if units else None)
        if len(images) > 1 and all("FILTER" in h.header for h in images):  # one HDU per band
            labels = tuple(str(h.header["FILTER"]).strip().lower() for h in images)
            shapes = {h.data.shape for h in images}
            if len(shapes) != 1:
                raise UserDataError(f"{path}: per-band HDUs {labels} differ in shape: {sorted(shapes)}")
            cube = np.stack([np.atleast_3d(h.data.astype(np.float32)).reshape((-1,) + h.data.shape[-2:])
                             for h in images], axis=-1)
            return cube, labels, bunit
        h = images[0]
        header, data = h.header, np.asarray(h.data, dtype=np.float32)
        labels = None
        if "BANDS" in header:
            labels = parse_bands(str(header["BANDS"]))
        elif any(f"FILTER{i}" in header for i in range(1, 6)):
            labels = tuple(str(header.get(f"FILTER{i}", "?")).strip().lower() for i in range(1, 6))
        return data, labels, bunit


def _to_nhwc(data: np.ndarray, path: Path, layout: str, notes: list) -> np.ndarray:
    """(N, 64, 64, 5) from channels-last or channels-first cubes (a single stamp gets N = 1)."""
    s, b = config.STAMP, len(config.BANDS)
    if data.ndim == 3:
        data = data[None]
    if data.ndim != 4:
        raise UserDataError(f"{path}: cutouts must be a 4-D array (N, {s}, {s}, {b}), got shape {data.shape}")
    last, first = data.shape[1:] == (s, s, b), data.shape[1:] == (b, s, s)
    if layout == "nhwc" and not last:
        raise UserDataError(f"{path}: layout nhwc needs shape (N, {s}, {s}, {b}), got {data.shape}")
    if layout == "nchw" and not first:
        raise UserDataError(f"{path}: layout nchw needs shape (N, {b}, {s}, {s}), got {data.shape}")
    if last and layout in ("auto", "nhwc"):
        return data
    if first:
        notes.append(f"channels-first cube (N, {b}, {s}, {s}) " + ("detected" if layout == "auto" else "as stated")
                     + ": transposed to channels last")
        return np.moveaxis(data, 1, -1)
    raise UserDataError(f"{path}: cutouts must be {s}x{s} pixels in {b} bands, (N, {s}, {s}, {b}) or (N, {b}, {s}, {s}); "
                        f"got shape {data.shape} (resample other pixel scales to {config.PIXEL_SCALE}\"/px first)")


def _band_order(labels, bands, path: Path, notes: list) -> list[int] | None:
    """Channel indices that put the file's bands in ugriz order (None: already in order)."""
    want = tuple(config.BANDS)
    if labels is not None and bands is not None and tuple(labels) != tuple(bands):
        raise UserDataError(f"{path}: the file labels its bands {''.join(labels)} but bands={''.join(bands)} was given")
    order = bands or labels
    if order is None:
        notes.append("band order not labelled in the file: taken as ugriz (the data contract); "
                     "state it with --bands if not")
        return None
    if len(order) != len(want) or sorted(order) != sorted(want):
        raise UserDataError(f"{path}: bands {list(order)} are not the five SDSS bands {''.join(want)} "
                            "(each exactly once)")
    if tuple(order) == want:
        return None
    notes.append(f"bands stored as {''.join(order)}: reordered to ugriz")
    return [order.index(b) for b in want]


def sky_statistics(pixels: np.ndarray, max_stamps: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    """Per band: median sky level and median robust noise (sigma_MAD) of the stamps' border pixels.

    Up to ``max_stamps`` evenly spread stamps are used (the statistics are medians over stamps).
    """
    b = SKY_BORDER
    mask = np.ones(pixels.shape[1:3], bool)
    mask[b:-b, b:-b] = False
    rows = np.unique(np.linspace(0, len(pixels) - 1, min(len(pixels), max_stamps)).astype(int))
    border = np.asarray(pixels[rows][:, mask, :], dtype=float)  # (stamps, border pixels, bands)
    centre = np.median(border, axis=1, keepdims=True)
    noise = MAD_TO_SIGMA * np.median(np.abs(border - centre), axis=1)  # (stamps, bands)
    return np.median(border, axis=(0, 1)), np.median(noise, axis=0)


def check_units(pixels: np.ndarray, path: Path, bunit=None) -> None:
    """Nanomaggies, sky-subtracted: BUNIT when present, else a plausible sky level and noise."""
    if bunit is not None:
        if isinstance(bunit, list) or bunit.lower() not in NANOMAGGY_UNITS:
            raise UserDataError(f"{path}: BUNIT={bunit!r}; the model needs nanomaggies (SDSS frame units): "
                                "convert with the frame's NMGY (nanomaggies per count) first")
        return
    level, noise = sky_statistics(pixels)
    lo, hi = SKY_NOISE_RANGE
    for k, band in enumerate(config.BANDS):
        if abs(level[k]) > SKY_LEVEL_MAX or not lo <= noise[k] <= hi:
            raise UserDataError(
                f"{path}: band {band} has a median sky level {level[k]:.4g} and sky noise {noise[k]:.4g} per pixel; "
                f"sky-subtracted nanomaggies give |level| < {SKY_LEVEL_MAX:g} and noise in [{lo:g}, {hi:g}] "
                "(counts, magnitudes or Jansky do not). Convert to nanomaggies and subtract the sky, "
                "or pass --no-plausibility if you are sure")


def check_band_order(pixels: np.ndarray, path: Path) -> None:
    """Galaxies are fainter in u than in i (in nanomaggies): a cube whose 'u' is brighter is misordered."""
    if len(pixels) < MIN_GALAXIES_FOR_BAND_CHECK:
        return
    c = config.STAMP // 2
    centre = pixels[:, c - 4:c + 4, c - 4:c + 4, :].sum(axis=(1, 2))
    u, i = np.median(centre[:, 0]), np.median(centre[:, 3])
    if u > i:
        raise UserDataError(f"{path}: the median central flux of the channel read as u ({u:.3g} nmgy) exceeds that "
                            f"of i ({i:.3g}); galaxies are fainter in u, so the bands look misordered. "
                            "State the order with --bands (e.g. --bands zirgu), or --no-plausibility")


def check_finite(pixels: np.ndarray, path: Path) -> None:
    bad = ~np.isfinite(pixels).all(axis=(1, 2, 3))
    if bad.any():
        rows = np.flatnonzero(bad)
        raise UserDataError(f"{path}: NaN/inf pixels in {len(rows)} cutout(s), rows {rows[:10].tolist()}"
                            f"{' ...' if len(rows) > 10 else ''}; drop them or fill them before predicting")


def read_images(path, layout: str = "auto", bands=None, plausibility: bool = True) -> Images:
    """Cutouts from ``.npy`` or FITS, checked and in the contract's layout (see the module docstring).

    Parameters
    ----------
    layout : "auto", "nhwc" or "nchw"
        Axis order of the file; "auto" accepts either and says which it found.
    bands : str or sequence, optional
        Order of the bands in the file (e.g. "ugriz", "zirgu"); checked against header labels.
    plausibility : bool
        Check units (sky level, noise) and band order (u fainter than i) on the pixels.
    """
    path = Path(path)
    if layout not in ("auto", "nhwc", "nchw"):
        raise ValueError(f"layout must be 'auto', 'nhwc' or 'nchw', got {layout!r}")
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such image file")
    notes, labels, bunit = [], None, None
    if path.suffix == ".npy":
        data = np.load(path, mmap_mode="r")
    elif _suffix(path) in (".fits", ".fit", ".fits.gz", ".fz"):
        data, labels, bunit = _fits_cube(path)
    else:
        raise UserDataError(f"{path}: images must be .npy or FITS (.fits, .fit, .fits.gz)")
    if not np.issubdtype(data.dtype, np.floating) and not np.issubdtype(data.dtype, np.integer):
        raise UserDataError(f"{path}: pixel dtype {data.dtype} is not numeric")
    pixels = np.asarray(_to_nhwc(data, path, layout, notes), dtype=np.float32)
    order = _band_order(labels, parse_bands(bands), path, notes)
    if order is not None:
        pixels = pixels[..., order]
    pixels = np.ascontiguousarray(pixels)
    check_finite(pixels, path)
    if plausibility:
        check_units(pixels, path, bunit)
        check_band_order(pixels, path)
    elif bunit is not None:
        check_units(pixels, path, bunit)
    return Images(pixels, path, notes)


# ---------------------------------------------------------------- the catalogue beside the images

def image_catalog(path, n: int, id_column: str | None = None, ebv_column: str = "ebv", ra_column: str = "ra",
                  dec_column: str = "dec", sfd_dir=None, notes: list | None = None) -> dict:
    """Ids and E(B-V) of ``n`` cutouts from a catalogue (one row per cutout, same order).

    E(B-V) is the ``ebv_column`` when present, else the SFD map at (``ra_column``, ``dec_column``)
    through :func:`photoz_nb.dust.sfd_ebv` (needs the map files in ``sfd_dir``).
    """
    table = read_table(path)
    if len(table) != n:
        raise UserDataError(f"{path}: {len(table)} rows but {n} cutouts; the catalogue needs one row per cutout, in order")
    ids = _ids(table, id_column, path)
    if ebv_column in table.colnames:
        ebv = column(table, ebv_column, path)
    elif ra_column in table.colnames and dec_column in table.colnames:
        ebv = sfd_ebv(column(table, ra_column, path), column(table, dec_column, path), sfd_dir)
        if notes is not None:
            notes.append(f"E(B-V) looked up in the SFD map at ({ra_column}, {dec_column})")
    else:
        raise UserDataError(f"{path}: needs an E(B-V) column {ebv_column!r}, or {ra_column!r} and {dec_column!r} "
                            f"to look it up in the SFD map; the file has {table.colnames}")
    return {"id": ids, "ebv": check_ebv(ebv, path, ebv_column, ids)}


def _ids(table, id_column, path) -> np.ndarray:
    if id_column is not None:
        if id_column not in table.colnames:
            raise UserDataError(f"{path}: no id column {id_column!r}; the file has {table.colnames}")
        return np.asarray(table[id_column])
    for name in ("objid", "id", "ID", "OBJID"):
        if name in table.colnames:
            return np.asarray(table[name])
    return np.arange(len(table))


# ---------------------------------------------------------------- models

def model_members(path) -> list[Path]:
    """The ``model.keras`` files of an ensemble: ``path`` (a model directory, a ``.keras`` file, or a
    models directory holding ``cnn/``) and its siblings ``<name>_member1``, ``_member2``, ..."""
    path = Path(path)
    if path.is_file() and path.suffix == ".keras":
        return [path]
    if not (path / "model.keras").exists() and (path / "cnn" / "model.keras").exists():
        path = path / "cnn"
    if not (path / "model.keras").exists():
        raise FileNotFoundError(f"{path}: no trained model (expected {path / 'model.keras'}, e.g. "
                                "data/<profile>/models/cnn written by `photoz-nb train`)")
    members, k = [path / "model.keras"], 1
    while (path.parent / f"{path.name}_member{k}" / "model.keras").exists():
        members.append(path.parent / f"{path.name}_member{k}" / "model.keras")
        k += 1
    return members


def _describe(path: Path) -> str:
    run = path.parent / "run.json"
    try:
        arch = json.loads(run.read_text())["identity"]["architecture"]
        return f"Net_P width {arch['width']}, {'with' if arch['use_ebv'] else 'without'} E(B-V)"
    except (OSError, KeyError, ValueError):
        return "no run.json"


def load_member(path: Path, image_shape: tuple, n_bins: int):
    """A Keras model, checked to take ``image_shape`` stamps and output ``n_bins`` probabilities."""
    import keras  # lazy: importing Keras starts a backend (seconds); only model files need it
    model = keras.models.load_model(path)
    inputs = {t.name.split(":")[0]: tuple(t.shape[1:]) for t in model.inputs}
    expected = inputs.get("image", tuple(model.inputs[0].shape[1:]))
    if expected != tuple(image_shape):
        raise UserDataError(f"{path} ({_describe(path)}) takes images of shape {expected}, "
                            f"the cutouts are {tuple(image_shape)}")
    if model.output.shape[-1] != n_bins:
        raise UserDataError(f"{path} ({_describe(path)}) outputs {model.output.shape[-1]} redshift bins, "
                            f"not the {n_bins} of the grid; it was trained for another grid")
    return model


@dataclasses.dataclass
class ArrayDataset:
    """In-memory stand-in for :class:`photoz_nb.catalog.Dataset`, as :func:`photoz_nb.estimators.cnn.predict.predict` reads one."""

    images: np.ndarray
    catalog: dict
    path: Path

    def __len__(self) -> int:
        return len(self.images)


def predict_pdfs(images: Images, ebv, model_path, tta: bool = False, batch_size: int = 256,
                 progress: bool = True) -> tuple[np.ndarray, int]:
    """PDFs of the cutouts from the ensemble at ``model_path``: the mean of its members' PDFs
    (:func:`photoz_nb.estimators.cnn.ensemble_mean`).  Returns (pdfs float32 (N, n_bins), n_members)."""
    from .estimators.cnn import ensemble_mean  # lazy: estimators.cnn loads Keras (seconds)
    from .estimators.cnn.predict import predict
    members = model_members(model_path)
    n = len(images.pixels)
    ds = ArrayDataset(images.pixels, {"ebv": np.zeros(n, np.float32) if ebv is None else np.asarray(ebv, np.float32)},
                      images.path)
    out = []
    for path in members:
        model = load_member(path, images.pixels.shape[1:], config.N_BINS)
        uses_ebv = len(model.inputs) > 1
        if uses_ebv and ebv is None:
            raise UserDataError(f"{path} ({_describe(path)}) needs E(B-V): give a catalogue with an 'ebv' column "
                                "or ra/dec (looked up in the SFD map)")
        out.append(predict(model, ds, batch_size=batch_size, tta=tta, progress=progress))
    return ensemble_mean(out), len(members)


def summary_columns(pdfs: np.ndarray, edges=None) -> dict:
    """Point estimates (mean, median, mode) and 68% widths (central, HPD) of each PDF."""
    edges = config.redshift_edges() if edges is None else edges
    out = {f"z_{k}": pdf.point_estimate(pdfs, edges, k) for k in pdf.POINT_KINDS}
    out.update({k: pdf.width(pdfs, edges, k) for k in pdf.WIDTH_KINDS})
    return out


def write_qp(path, pdfs: np.ndarray, ancil: dict, edges=None):
    """The PDFs as a qp ``hist`` ensemble on our bin edges, with ``ancil`` and the summary columns."""
    edges = config.redshift_edges() if edges is None else edges
    ancil = {k: (v.astype("S") if np.asarray(v).dtype.kind == "U" else v) for k, v in ancil.items()}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name("tmp-" + path.name)
    ens = pdf.to_qp(pdfs, edges, ancil={**ancil, **summary_columns(pdfs, edges)}, path=tmp)
    tmp.replace(path)
    return ens


# ---------------------------------------------------------------- photometric catalogues for the baselines

def _names(text, n: int, what: str) -> list[str] | None:
    if text is None:
        return None
    names = [c.strip() for c in (text.split(",") if isinstance(text, str) else text) if c.strip()]
    if len(names) != n:
        raise UserDataError(f"{what} needs {n} column names, got {names}")
    return names


def photometry_table(path, target: str = "z_spec", mags=None, colours=None, r_column: str | None = None,
                     ebv_column: str | None = None, id_column: str | None = None, split_column: str = "split",
                     split_fractions=(0.72, 0.08, 0.2), seed: int = 0):
    """A user's catalogue as the baselines read one: ``objid, z_spec, mag_u..mag_z, split``.

    Parameters
    ----------
    path : FITS, CSV, ECSV or Parquet file.
    target : the spectroscopic redshift column (training labels and test truth).
    mags : five magnitude columns in ugriz order (default ``mag_u,...,mag_z``).
    colours : instead of ``mags``, four colour columns u-g, g-r, r-i, i-z plus ``r_column``; the
        magnitudes are rebuilt from them (the baselines use r and the same four colours).
    ebv_column : deredden with ``config.EXTINCTION_COEFF[b] * E(B-V)`` (omit for dereddened magnitudes).
    split_column : train/val/test labels; when absent, seeded random splits of ``split_fractions``
        (:func:`photoz_nb.catalog.assign_splits`).

    Every used column is checked: NaN/inf and sentinels (99, -9999, ...) in the photometry, and
    redshifts outside the PDF grid, raise an error naming the first bad row and its id.
    """
    table = read_table(path)
    if not len(table):
        raise UserDataError(f"{path}: the catalogue is empty")
    ids = _ids(table, id_column, path)
    z = check_labels(column(table, target, path), target, path, ids)
    if mags is not None and colours is not None:
        raise UserDataError("give magnitudes or colours, not both")
    if colours is not None:
        if r_column is None:
            raise UserDataError("colours need the r magnitude column too (--r-column)")
        ug, gr, ri, iz = (check_photometry(column(table, c, path), c, path, ids) for c in _names(colours, 4, "colours"))
        r = check_photometry(column(table, r_column, path), r_column, path, ids)
        values = {"u": r + gr + ug, "g": r + gr, "r": r, "i": r - ri, "z": r - ri - iz}
    else:
        cols = _names(mags, 5, "mags") or [f"mag_{b}" for b in config.BANDS]
        values = {b: check_photometry(column(table, c, path), c, path, ids) for b, c in zip(config.BANDS, cols)}
    if ebv_column is not None:
        ebv = check_ebv(column(table, ebv_column, path), path, ebv_column, ids)
        values = {b: v - config.EXTINCTION_COEFF[b] * ebv for b, v in values.items()}
    if split_column in table.colnames:
        split = np.char.strip(np.asarray(table[split_column]).astype(str))
        unknown = ~np.isin(split, catalog.SPLITS)
        first_bad(unknown, f"label(s) other than {catalog.SPLITS}", split, path, split_column, ids)
    else:
        split = catalog.assign_splits(len(table), split_fractions, seed)
    for s in ("train", "test"):
        if not np.any(split == s):
            raise UserDataError(f"{path}: no galaxy in the {s} split (column {split_column!r} or the fractions)")
    return Table({"objid": ids, "z_spec": z, **{f"mag_{b}": v for b, v in values.items()}, "split": split})


def baselines_on_catalog(cat, out_dir, methods=("knn", "rf"), seed: int = 0, n_boot: int = 200,
                         kind: str = "mean") -> tuple:
    """:func:`photoz_nb.baselines.benchmark` on a :func:`photometry_table`; writes to ``out_dir``:
    ``<method>.hdf5`` (qp hist ensembles of the test galaxies, ancil ``id, z_spec`` and the summary
    columns) and ``metrics.md`` / ``metrics.ecsv``.  Returns (table, paths)."""
    from .baselines import benchmark  # lazy: baselines imports scikit-learn's ensembles (~1-3 s)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    table, pdfs = benchmark(cat, methods, seed=seed, n_boot=n_boot, kind=kind)
    test = cat[np.asarray(cat["split"]).astype(str) == "test"]
    paths = []
    for method, p in pdfs.items():
        paths.append(out_dir / f"{method}.hdf5")
        write_qp(paths[-1], p, {"id": np.asarray(test["objid"]), "z_spec": np.asarray(test["z_spec"], float)})
    paths += [out_dir / "metrics.md", out_dir / "metrics.ecsv"]
    paths[-2].write_text(metrics_markdown(table) + "\n")
    table.write(paths[-1], format="ascii.ecsv", overwrite=True)
    return table, paths


def metrics_markdown(table) -> str:
    """The benchmark table as Markdown: ``value ± error`` where there is an error column."""
    cols = [c for c in table.colnames if not c.endswith("_err")]
    rows = []
    for row in table:
        cells = []
        for c in cols:
            v = row[c]
            if isinstance(v, (str, np.str_)):
                cells.append(str(v))
            elif np.issubdtype(np.asarray(v).dtype, np.integer):
                cells.append(f"{int(v):,d}")
            else:
                err = row[f"{c}_err"] if f"{c}_err" in table.colnames else np.nan
                fmt = "{:.2f}" if c == "outliers_pct" else "{:.5f}"
                cells.append("" if not np.isfinite(v) else fmt.format(v) + (" ± " + fmt.format(err) if np.isfinite(err) else ""))
        rows.append(cells)
    return markdown_table(rows, headers=cols, align=["---"] + ["---:"] * (len(cols) - 1))
