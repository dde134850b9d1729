"""The paper's spectroscopic sample as SkyServer SQL: paged, retried, cached on disk, resumable.

Selection (Pasquet et al. 2019, "Data"): SDSS spectra of class GALAXY with zWarning = 0,
targeted as Main Galaxy Sample (legacy primTarget bits GALAXY 0x40, GALAXY_BIG 0x80,
GALAXY_BRIGHT_CORE 0x100; the paper writes "primTarget >= 64"), clean photometry,
0 < z <= 0.4 and dereddened Petrosian r <= 17.8.  The paper's survey-mask cut is not
applied here.  One spectrum per object (``sciencePrimary = 1``).

Pages are keyset-paginated on ``objID`` (``TOP n ... WHERE objID > last ORDER BY objID``),
so every page is a stable, independent query (the sample is complete when a page comes back
empty: a short page may be a truncated answer); each is written to
``cache_dir/<query hash>/page_NNNNN.ecsv`` as soon as it arrives, and a later call
resumes after the last page on disk.

The query goes to SkyServer's SQL search over HTTP (:func:`skyserver_fn`, the same URL and CSV
format as ``astroquery.sdss.SDSS.query_sql``), at the base URL of :func:`.net.skyserver_url`
(``--skyserver-url``, ``$PHOTOZ_SKYSERVER_URL``, else the public SkyServer).  A page that fails
(network, 5xx, an HTML error page where CSV was expected) is retried, honouring ``Retry-After``,
then reported in one line naming the page and the URL.
"""
from __future__ import annotations

import hashlib
import io
import json
import time
import urllib.parse
import warnings
from pathlib import Path
from typing import Callable

import numpy as np
from astropy.table import Table, vstack
from tqdm.auto import tqdm

from .. import catalog as contract
from .. import config, safeio
from ..stats import require_columns
from . import net
from .cube import is_stripe82

#: Neighbours counted within the half-width of a 64-pixel stamp (arcmin, Neighbors.distance).
NEIGHBOUR_RADIUS_ARCMIN = config.STAMP * config.PIXEL_SCALE / 2 / 60
MGS_BITS = 0x40 | 0x80 | 0x100

SELECT = """SELECT TOP {page_size}
  p.objID AS objid, s.specObjID AS specobjid, p.ra, p.dec, s.z AS z_spec,
  p.run, p.rerun, p.camcol, p.field,
  {model_mags},
  p.petroMag_r - p.extinction_r AS petro_r, p.petroMagErr_r AS petro_r_err,
  p.extinction_r, p.expAB_r AS b_over_a, p.psfFwhm_r AS psf_fwhm_r,
  (SELECT COUNT(*) FROM Neighbors AS n WHERE n.objID = p.objID AND n.neighborMode = 1
     AND n.distance < {neighbour_radius:.4f}) AS n_neighbours
FROM SpecObjAll AS s
JOIN PhotoObjAll AS p ON s.bestObjID = p.objID
WHERE s.class = 'GALAXY' AND s.zWarning = 0 AND s.sciencePrimary = 1
  AND (s.primTarget & {mgs_bits}) > 0
  AND p.clean = 1
  AND s.z > {z_min} AND s.z <= {z_max}
  AND p.petroMag_r - p.extinction_r <= {r_max}
  AND p.objID > {after}
ORDER BY p.objID"""

QueryFn = Callable[[str], Table]


def mgs_sql(after: int = 0, page_size: int = 50_000, z_max: float = config.Z_MAX,
            r_max: float = config.R_PETRO_MAX) -> str:
    """SkyServer SQL of one page of the sample: objects with ``objID > after``, ordered."""
    model_mags = ",\n  ".join(f"p.modelMag_{b} - p.extinction_{b} AS mag_{b}" for b in config.BANDS)
    return SELECT.format(page_size=int(page_size), model_mags=model_mags, neighbour_radius=NEIGHBOUR_RADIUS_ARCMIN,
                         mgs_bits=MGS_BITS, z_min=config.Z_MIN, z_max=z_max, r_max=r_max, after=int(after))


#: Largest SkyServer answer accepted, bytes (a 50,000-row page is about 10 MB).
MAX_PAGE_BYTES = 512 * 2**20


class QueryError(OSError, RuntimeError):
    """A SkyServer page could not be fetched or read (one line naming the page and the URL)."""


def skyserver_fn(data_release: int = 12, base: str | None = None, timeout: float = 600.0) -> QueryFn:
    """Run SQL on SkyServer over HTTP: ``{base}/dr{N}/en/tools/search/x_results.aspx?cmd=SQL&format=csv``.

    The answer is SkyServer's CSV (a ``#Table1`` line, a header line, rows).  Raises
    :class:`~.net.TransientError` naming the URL (without the SQL) for network failures, 5xx, an HTML
    page (SkyServer reports SQL errors and maintenance that way, with status 200) or a truncated body.
    """
    url = f"{net.skyserver_url(base)}/dr{int(data_release)}/en/tools/search/x_results.aspx"

    def run(sql: str) -> Table:
        query = urllib.parse.urlencode({"cmd": sql, "format": "csv", "searchtool": "SQL"})
        with net.open_url(f"{url}?{query}", timeout) as response:
            length = response.headers.get("Content-Length")
            try:
                body = response.read(MAX_PAGE_BYTES + 1)
            except OSError as err:
                raise net.transient(url, err) from None
            except Exception as err:  # http.client.IncompleteRead and friends
                raise net.transient(url, err) from None
            ctype = response.headers.get("Content-Type")
        if len(body) > MAX_PAGE_BYTES:
            raise net.PermanentError(url, f"answer over {MAX_PAGE_BYTES / 2**20:.0f} MiB (MAX_PAGE_BYTES); refused")
        if length and length.strip().isdigit() and len(body) != int(length):
            raise net.TransientError(url, f"body ended after {len(body):,} of {int(length):,} bytes (Content-Length)")
        if net.looks_like_html(body[:512], ctype):
            raise net.TransientError(url, f"answered with an HTML page, not CSV: {net.html_title(body)!r}")
        text = body.decode("utf-8", "replace")
        if not text.strip():
            return Table()
        first = text.lstrip().splitlines()[0]
        if "error_message" in text[:4096] or not (first.startswith("#Table") or "," in first):
            raise net.TransientError(url, f"answer is not SkyServer CSV (starts {' '.join(text[:60].split())!r})")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # specobjid > 2**63 is read as a string
                table = Table.read(text, format="ascii.csv", comment="#")
        except Exception as err:  # astropy's readers raise many types
            raise net.TransientError(url, f"CSV answer could not be read ({type(err).__name__}: "
                                          f"{' '.join(str(err).split())[:120]})") from None
        if "specobjid" in table.colnames:  # exceeds int64 from DR12 on: text on every page, so pages stack
            table["specobjid"] = np.asarray(table["specobjid"]).astype(str)
        return table

    return run


def astroquery_fn(data_release: int = 12, timeout: float = 600.0) -> QueryFn:
    """Run SQL on SkyServer through ``astroquery.sdss.SDSS.query_sql``."""
    try:
        from astroquery.sdss import SDSS
    except ImportError as err:
        raise ImportError("querying SkyServer needs astroquery (pip install astroquery)") from err

    def run(sql: str) -> Table:
        result = SDSS.query_sql(sql, data_release=data_release, timeout=timeout)
        return Table() if result is None else result

    return run


def query_sample(cache_dir, query_fn: QueryFn | None = None, page_size: int = 50_000, max_pages: int | None = None,
                 retries: int = 3, backoff: float = 10.0, data_release: int = 12, progress: bool = True,
                 skyserver_url: str | None = None) -> Table:
    """Fetch the sample page by page (resuming from ``cache_dir``) and return the raw rows.

    Parameters
    ----------
    query_fn : ``sql -> Table``; default :func:`skyserver_fn` for ``data_release`` at ``skyserver_url``.
    max_pages : stop after this many pages in total (for tests and partial runs).
    retries, backoff : attempts per page, waiting ``Retry-After`` when sent, else ``backoff * 2**attempt`` s.
    skyserver_url : SkyServer base URL (default :func:`.net.skyserver_url`).
    """
    query_fn = query_fn or skyserver_fn(data_release, skyserver_url)
    pages_dir = Path(cache_dir) / _query_id(page_size, data_release)
    pages_dir.mkdir(parents=True, exist_ok=True)
    state = _read_state(pages_dir)
    bar = tqdm(desc="SkyServer pages", unit="page", initial=state["pages"], disable=not progress)
    while not state["complete"] and (max_pages is None or state["pages"] < max_pages):
        sql = mgs_sql(after=state["after"], page_size=page_size)
        page = _with_retries(query_fn, sql, retries, backoff, where=f"page {state['pages']} (objID > {state['after']})")
        _write_page(pages_dir, state, page, page_size)
        bar.update(1)
    bar.close()
    return _read_pages(pages_dir, state["pages"])


def _query_id(page_size: int, data_release: int) -> str:
    h = hashlib.sha256(f"{mgs_sql(0, page_size)}|DR{data_release}".encode()).hexdigest()
    return f"mgs-dr{data_release}-{h[:12]}"


def _read_state(pages_dir: Path) -> dict:
    try:
        return json.loads((pages_dir / "state.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {"pages": 0, "after": 0, "complete": False}


def _with_retries(query_fn: QueryFn, sql: str, retries: int, backoff: float, where: str) -> Table:
    for attempt in range(retries):
        try:
            return query_fn(sql)
        except Exception as err:  # network, HTTP and server errors all look different
            if attempt + 1 == retries or isinstance(err, net.PermanentError):
                raise QueryError(f"SkyServer query for {where} failed after {attempt + 1} attempt(s): "
                                 f"{' '.join(str(err).split())}") from err
            wait = getattr(err, "retry_after", None)
            time.sleep(backoff * 2**attempt if wait is None else wait)


def _write_page(pages_dir: Path, state: dict, page: Table, page_size: int) -> None:
    if len(page):
        require_columns(page, ("objid", "ra", "dec", "z_spec"), f"SkyServer page {state['pages']} response")
        objid = np.asarray(page["objid"], dtype=np.int64)
        if np.any(np.diff(objid) <= 0) or objid[0] <= state["after"]:
            raise ValueError(f"SkyServer page {state['pages']}: objid not increasing after {state['after']}")
        name = pages_dir / f"page_{state['pages']:05d}.ecsv"
        page.write(name.with_suffix(".tmp"), format="ascii.ecsv", overwrite=True)
        safeio.replace_file(name.with_suffix(".tmp"), name)
        state.update(pages=state["pages"] + 1, after=int(objid[-1]))
    # Complete only on an empty page: a short page may be a truncated answer (SkyServer's CSV has no
    # end marker), so one more query after its last objID confirms the end.
    state["complete"] = len(page) == 0
    safeio.write_atomic(pages_dir / "state.json", json.dumps(state))


def _read_pages(pages_dir: Path, n_pages: int) -> Table:
    pages = [Table.read(pages_dir / f"page_{k:05d}.ecsv", format="ascii.ecsv") for k in range(n_pages)]
    return vstack(pages, metadata_conflicts="silent") if pages else Table()


def to_contract(rows: Table, fractions=(0.72, 0.08, 0.2), seed: int = 0, where: str = "SkyServer response") -> Table:
    """Data-contract catalogue (plus ``run``, ``camcol``, ``field``, ``specobjid``) from raw rows.

    ``ebv`` = extinction_r / 2.751; ``snr_r`` = 1.0857 / petroMagErr_r; ``stripe82`` from
    the footprint; ``split`` drawn with ``seed``.  Raises
    :class:`~photoz_nb.catalog.ContractError` naming missing columns.
    """
    needed = ["objid", "ra", "dec", "z_spec", "extinction_r", *[f"mag_{b}" for b in config.BANDS], "petro_r",
              "petro_r_err", "b_over_a", "psf_fwhm_r", "n_neighbours", "run", "camcol", "field"]
    require_columns(rows, needed, where, error=contract.ContractError)
    cat = Table()
    cat["objid"] = np.asarray(rows["objid"], dtype=np.int64)
    for c in ("ra", "dec", "z_spec", *[f"mag_{b}" for b in config.BANDS], "petro_r", "b_over_a", "psf_fwhm_r"):
        cat[c] = np.asarray(rows[c], dtype=float)
    cat["ebv"] = np.asarray(rows["extinction_r"], dtype=float) / config.EXTINCTION_COEFF["r"]
    cat["n_neighbours"] = np.asarray(rows["n_neighbours"], dtype=np.int32)
    with np.errstate(divide="ignore"):
        cat["snr_r"] = 1.0857 / np.asarray(rows["petro_r_err"], dtype=float)
    cat["stripe82"] = is_stripe82(cat["ra"], cat["dec"])
    cat["split"] = contract.assign_splits(len(cat), fractions, seed)
    for c in ("run", "camcol", "field"):
        cat[c] = np.asarray(rows[c], dtype=np.int32)
    if "specobjid" in rows.colnames:
        cat["specobjid"] = np.asarray(rows["specobjid"]).astype(str)  # exceeds int64 in DR12+
    for col, unit in contract.COLUMNS.items():
        if unit:
            cat[col].unit = unit
    contract.validate_catalog(cat, where=where)
    return cat
