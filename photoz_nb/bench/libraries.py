"""``photoz-nb bench libraries``: the own code kept over a library, timed against it on the same inputs.

* the renderer (:func:`photoz_nb.simulate.render.render_groups`, as the simulator calls it through
  :func:`photoz_nb.simulate.photometry.render_galaxy`) against GalSim drawing the same bulge, disk and
  neighbours through the same per-band PSF (Moffat core + Moffat wing), five bands, 64 x 64;
* the exact CRPS of binned PDFs (:func:`photoz_nb.pdf.crps`) against properscoring: its exact route
  (``crps_quadrature`` of the piecewise-linear CDF, ``scipy.stats.rv_histogram``) and its fast one
  (``crps_ensemble`` of the bin centres weighted by the PDF: point masses, so not the same number).

GalSim and properscoring are in the ``test`` extra, not the main dependencies: they are imported
inside the functions that time them, so ``photoz_nb.bench`` imports without them.  The agreement
columns are what :mod:`tests.test_bench` asserts; the speeds are for the README, never for tests.
"""
from __future__ import annotations

import time
import warnings

import numpy as np

from .. import config, pdf
from ..simulate import render
from ..simulate.galaxies import draw_galaxies
from ..simulate.photometry import neighbour_components, own_components, render_galaxy
from .common import _machine, _sig, markdown_table

#: properscoring.crps_quadrature's check of scipy.integrate.quad's error estimate: its default (1e-6)
#: fails on a CDF with 180 kinks although the integral is good to ~1e-6 (see the bench's agreement).
QUADRATURE_TOL = 1e-4
#: Rows per properscoring.crps_ensemble call: without numba it holds (rows, bins, bins) float64 arrays
#: (20,000 PDFs of 180 bins at once took over 20 GB); 256 rows keep each under 70 MB.
ENSEMBLE_ROWS = 256


def _cpu_timed(fn):
    """(``fn()``, CPU seconds of this process it took): both sides run in one thread, and on a shared
    machine the CPU time of a step stays meaningful when its wall-clock time does not."""
    start = time.process_time()
    result = fn()
    return result, max(time.process_time() - start, 1e-9)


def galsim_psf(galsim, fwhm: float, band: str, wing_scale: float = 1.0):
    """The simulator's PSF of ``band`` (:func:`photoz_nb.simulate.render.psf_ft`) as GalSim Moffats."""
    wing = float(render.wing_fractions([band], wing_scale)[0])
    return ((1 - wing) * galsim.Moffat(beta=render.PSF_CORE_BETA[band], fwhm=fwhm)
            + wing * galsim.Moffat(beta=render.PSF_WING_BETA, fwhm=fwhm * render.PSF_WING_SCALE))


def _galsim_image(galsim, components, psf_fwhm, wing_scale: float = 1.0, stamp: int = config.STAMP) -> np.ndarray:
    """``components`` drawn by GalSim through the per-band PSF: (n_bands, stamp, stamp), like render_stamp."""
    profiles = {"devaucouleurs": galsim.DeVaucouleurs, "exponential": galsim.Exponential}
    out = np.empty((len(psf_fwhm), stamp, stamp))
    for b, (band, fwhm) in enumerate(zip(config.BANDS, psf_fwhm)):
        # GalSim's shear keeps the area: its circular hlr is our major-axis hlr x sqrt(q)
        parts = [profiles[c.profile](half_light_radius=c.hlr * np.sqrt(c.q), flux=c.flux[b])
                 .shear(q=c.q, beta=c.pa * galsim.radians).shift(c.dx, c.dy) for c in components]
        obj = galsim.Convolve(galsim.Sum(parts), galsim_psf(galsim, fwhm, band, wing_scale))
        out[b] = obj.drawImage(nx=stamp, ny=stamp, scale=1.0).array
    return out


def renderer_vs_galsim(n: int = 200, seed: int = 0) -> list[dict]:
    """Galaxies/s of our renderer and of GalSim on the same ``n`` simulated galaxies (bulge, disk, neighbours).

    The galaxies are the simulator's own draws (:func:`~photoz_nb.simulate.galaxies.draw_galaxies`:
    the real MGS population, its morphology, PSFs and neighbours); drawing them is not timed.
    ``max abs diff``: the largest pixel difference over all galaxies and bands, relative to
    that galaxy's brightest pixel.
    """
    import galsim  # optional (the test extra): only this benchmark needs it
    params = draw_galaxies(n, seed).params
    # not timed: the first call of each builds its tables (our de Vaucouleurs FT, GalSim's Sersic profile)
    render_galaxy(params, 0)
    _galsim_image(galsim, own_components(params, 0), params["psf"][0])
    ours, ours_s = _cpu_timed(lambda: [render_galaxy(params, i).stamp for i in range(n)])
    ref, ref_s = _cpu_timed(lambda: [_galsim_image(galsim, own_components(params, i) + neighbour_components(params, i),
                                                   params["psf"][i], params["psf_wing_scale"][i]) for i in range(n)])
    diff = max(float(np.abs(a - b).max() / b.max()) for a, b in zip(ours, ref))
    return [{"task": f"render {n} galaxies, {len(config.BANDS)} bands, {config.STAMP}x{config.STAMP}",
             "ours": "simulate.render", "library": f"GalSim {galsim.__version__}", "evaluations": n,
             "per s (ours)": _sig(n / ours_s), "per s (library)": _sig(n / ref_s), "speed ratio": _sig(ref_s / ours_s),
             "max abs diff": _sig(diff), "diff relative to": "the galaxy's peak pixel"}]


def binned_pdfs(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(pdfs, edges, z): ``n`` two-peaked PDFs on the paper's grid with a floor, and a redshift drawn near each."""
    edges = config.redshift_edges()
    centres = 0.5 * (edges[1:] + edges[:-1])
    rng = np.random.default_rng(seed)
    mu, sigma = rng.uniform(0.05, 0.3, n)[:, None], rng.uniform(0.01, 0.04, n)[:, None]
    p = np.exp(-0.5 * ((centres - mu) / sigma) ** 2) + 0.3 * np.exp(-0.5 * ((centres - mu - 0.1) / sigma) ** 2) + 1e-3
    z = np.clip(mu[:, 0] + sigma[:, 0] * rng.normal(size=n), edges[0] + 1e-6, edges[-1])
    return p / p.sum(axis=1, keepdims=True), edges, z


def crps_vs_properscoring(n: int = 20000, n_quadrature: int = 50, seed: int = 0) -> list[dict]:
    """Evaluations/s of :func:`photoz_nb.pdf.crps` and of properscoring on the same binned PDFs.

    properscoring's exact route integrates numerically one PDF at a time (a few per second), so it
    gets the first ``n_quadrature`` of the ``n`` PDFs; ours is timed on those and on all ``n``.
    """
    import properscoring  # optional (the test extra): only this benchmark needs it
    import scipy.stats  # lazy: ~1 s of import, for scipy.stats.rv_histogram here only
    p, edges, z = binned_pdfs(n, seed)
    m = min(n_quadrature, n)
    rows = []
    ours, ours_s = _cpu_timed(lambda: pdf.crps(p, edges, z))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # quad's IntegrationWarning at the kinks; its result is checked below
        exact, quad_s = _cpu_timed(lambda: np.array([
            properscoring.crps_quadrature(z[i], scipy.stats.rv_histogram((p[i], edges), density=False),
                                          edges[0], edges[-1], tol=QUADRATURE_TOL) for i in range(m)]))
    ours_m, ours_m_s = _cpu_timed(lambda: pdf.crps(p[:m], edges, z[:m]))
    rows.append(_crps_row(f"exact CRPS of {m} binned PDFs", "crps_quadrature (rv_histogram)", m, m / ours_m_s,
                          m / quad_s, ours_m, exact))
    centres = 0.5 * (edges[1:] + edges[:-1])
    blocks = [slice(i, i + ENSEMBLE_ROWS) for i in range(0, n, ENSEMBLE_ROWS)]
    point_masses, ensemble_s = _cpu_timed(lambda: np.concatenate([
        properscoring.crps_ensemble(z[b], np.broadcast_to(centres, p[b].shape), weights=p[b]) for b in blocks]))
    rows.append(_crps_row(f"CRPS of {n} binned PDFs", f"crps_ensemble (bin centres: approximate; {_ensemble_core()})",
                          n, n / ours_s, n / ensemble_s, ours, point_masses))
    return rows


def _ensemble_core() -> str:
    """Which core properscoring.crps_ensemble runs: numba's O(m) gufunc, or without numba an O(m^2) numpy one."""
    from properscoring import _crps  # optional (the test extra), as in crps_vs_properscoring
    return "numba" if "gufunc" in _crps._crps_ensemble_core.__name__ else "numpy O(m^2), numba not installed"


def _crps_row(task, library, n, ours_rate, library_rate, ours, ref) -> dict:
    return {"task": task, "ours": "pdf.crps", "library": f"properscoring.{library}", "evaluations": n,
            "per s (ours)": _sig(ours_rate), "per s (library)": _sig(library_rate),
            "speed ratio": _sig(ours_rate / library_rate), "max abs diff": _sig(float(np.abs(ours - ref).max())),
            "diff relative to": f"absolute (mean CRPS {float(np.mean(ours)):.3g})"}


def bench_libraries(n: int = 200, n_crps: int = 20000, n_quadrature: int = 50, seed: int = 0,
                    show: bool = True) -> list[dict]:
    """:func:`renderer_vs_galsim` and :func:`crps_vs_properscoring` in one table (speed ratio: library time / ours)."""
    rows = renderer_vs_galsim(n, seed) + crps_vs_properscoring(n_crps, n_quadrature, seed)
    if show:
        print(f"Own code against the library, same inputs; rates per CPU second of one process ({_machine()}):\n")
        print(markdown_table(rows))
    return rows
