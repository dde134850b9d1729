"""A noise-free galaxy population: extreme deconvolution of the real MGS catalogue.

The real Main Galaxy Sample galaxies of kcorrect's test catalogue (the paper's cuts, 9,811
rows) are measurements: their fluxes carry SDSS's noise.  We model the distribution of their
*true* values with Gaussian mixtures fitted by extreme deconvolution (XD; Bovy, Hogg &
Roweis 2011, Ann. Appl. Stat. 5, 1657), which fits the mixture convolved with each galaxy's
own error covariance to the measurements, so that draws from the mixture itself are noise
free.  The measured quantities are

    x = (ln z, r_petro, r_model - r_petro, u-g, g-r, r-i, i-z)

with dereddened asinh magnitudes (SDSS's softening, but 1 nanomaggy in u: linear in flux
where u is noisy, so that its errors stay Gaussian as XD assumes), and the last five minus a
cubic trend in ln z (:func:`fit_trend`, an exact change of coordinates).  ln z, not z,
resolves the nearby galaxies: a mixture in z smoothed the colours at z < 0.06 with those of
higher redshift (re-observed scatter 7-12 % too broad there in every colour), and its held-out
likelihood is lower (6.507 against 6.517 per galaxy, counted in z's units).  Each galaxy's error
covariance is the linearised propagation of its flux inverse variances (bands independent,
model and Petrosian r independent: SDSS gives no covariance), so colours that share a band
are correlated; the linearisation is at the galaxy's kcorrect SED flux (see
:func:`xd_data`).  Spectroscopic redshifts get a variance of (1e-4)^2 (of z).

Two mixtures (MIXTURES) share x: the *population* draws a galaxy's redshift, Petrosian r (the
selection) and colours; the *deficit* mixture draws its Petrosian flux deficit
r_model - r_petro (which sets its concentration) from its conditional given the galaxy's
(ln z, r_petro, u-g, g-r, r-i).  One 7-d mixture of both, at the number of components its held-out
likelihood chose, left the red sequence's re-observed u-g 7 % too broad (1.068 +- 0.017):
its components also had to follow the deficit.

The fitted mixtures are committed as ``xd_population.npz`` and ``xd_deficit.npz`` with their
provenance; ``scripts/fit_population.py`` refits them, choosing the number of components by
held-out likelihood.  Nothing is fitted at run time.  :func:`draw_population` draws any number of new
galaxies; the selection (0 < z <= 0.4, dereddened r_petro <= 17.8) is applied to the true
values, which the catalogue reports (SDSS's r_petro error at the limit, ~0.02 mag, is far
below the mixture's own smoothing of the edge).  Each drawn galaxy takes the sky position and
E(B-V) of a random real galaxy, and the kcorrect SED of its nearest real neighbour in
(z, colours) for its K-correction.

:func:`reobservation_table` checks the deconvolution: drawn truths re-observed with
SDSS-like errors (:func:`fit_flux_error_model`) must reproduce the real catalogue's colours
in redshift bins.
"""
from __future__ import annotations

import functools
import hashlib
import time
from pathlib import Path

import numpy as np
from astropy.table import Table
from scipy.spatial import cKDTree

from .. import config, mgs
from ..stats import nanomaggies_to_mag, sigma_mad
from . import real, sed
from .real import Population, by_blocks, load_real_galaxies
from .streams import STREAM_SAMPLE, stream

BANDS = config.BANDS
R = BANDS.index("r")
DIMENSIONS = ("ln z", "r_petro", "r_model-r_petro", "u-g", "g-r", "r-i", "i-z")
#: Each mixture's dimensions (a subset of DIMENSIONS); the deficit mixture is used only as the
#: conditional of its last dimension given the others, which the population has drawn.
MIXTURES = {"population": ("ln z", "r_petro", "u-g", "g-r", "r-i", "i-z"),
            "deficit": ("ln z", "r_petro", "u-g", "g-r", "r-i", "r_model-r_petro")}
#: asinh softening b (maggies) of the XD magnitudes: SDSS's, but ~the median u error for u,
#: so that u is nearly linear in flux where its noise is large, and its errors nearly Gaussian
#: (XD assumes Gaussian errors; a Pogson u of a galaxy at S/N ~ 3-5 has skewed ones).
XD_SOFTENING = {**mgs.ASINH_SOFTENING, "u": 1.0e-9}
#: Colours (and r_model - r_petro) are fitted minus a cubic trend in ln z (:func:`fit_trend`):
#: an exact change of coordinates that leaves the mixture the scatter about the trend, not
#: the curved colour-redshift relations, to model.
TREND_DIMENSIONS, TREND_DEGREE = slice(2, None), 3
#: Variance of a spectroscopic redshift (it is not deconvolved, only kept non-singular).
Z_VARIANCE = 1e-4 ** 2
#: Added to every component covariance at each M step (Bovy et al.'s w): keeps them non-singular.
XD_REGULARISATION = 1e-6
MODEL_DIR = Path(__file__).parent
#: Draws per block of the rejection sampler (bounded memory); part of the sample's definition.
DRAW_BLOCK = 1 << 16
#: Scales of (z, u-g, g-r, r-i, i-z) in the nearest-neighbour search for a drawn galaxy's SED:
#: the r K-correction changes by ~0.01 mag for dz = 0.01 or d(g-r) = 0.03; u-g matters little.
SED_NEIGHBOUR_SCALE = np.array([0.01, 0.12, 0.03, 0.03, 0.05])
#: Stream key of the re-observation noise (validation only; apart from galaxies.STREAM_*).
STREAM_REOBSERVE = 100
#: Redshift bins of the re-observation table (~2,000 real galaxies each).
REOBSERVATION_Z_EDGES = (0.0, 0.06, 0.09, 0.12, 0.16, 0.4)
COLOURS = (("u", "g"), ("g", "r"), ("r", "i"), ("i", "z"))


# -- the real measurements -------------------------------------------------------------------
@functools.lru_cache(maxsize=2)
def real_measurements(path: str | None = None) -> dict:
    """Observed fluxes, inverse variances and extinction of the real sample (the paper's cuts).

    Rows are those of :func:`galaxies.load_real_galaxies` (same selection, same order).
    Fluxes are as measured (not dereddened; u may be <= 0), in nanomaggies.
    """
    path = Path(path or mgs.mgs_path())
    real = load_real_galaxies(path)
    rows = real.objid - 1  # objid is the row number in the kcorrect file, from 1
    t = Table.read(path)
    out = dict(z=real.z, ra=real.ra, dec=real.dec, ebv=real.ebv, objid=real.objid, coeffs=real.coeffs,
               extinction=np.asarray(t["EXTINCTION"], float)[rows],
               flux=np.asarray(t["MODELFLUX"], float)[rows], ivar=np.asarray(t["MODELFLUX_IVAR"], float)[rows],
               petro_flux=np.asarray(t["PETROFLUX"], float)[rows, R],
               petro_ivar=np.asarray(t["PETROFLUX_IVAR"], float)[rows, R])
    for name in ("ivar", "petro_ivar"):
        if not (out[name] > 0).all():
            raise ValueError(f"{path}: column {name.upper()} has non-positive inverse variances")
    return out


def dereddened_mags(flux, error, extinction) -> tuple[np.ndarray, np.ndarray]:
    """SDSS asinh magnitudes of fluxes (n, 5) minus the extinction, and their linearised errors
    (the catalogue's magnitudes)."""
    mags = mgs.asinh_mags(flux) - extinction
    errs = np.column_stack([mgs.asinh_mag_error(flux[:, j], error[:, j], b) for j, b in enumerate(BANDS)])
    return mags, errs


def xd_mags(flux, error) -> tuple[np.ndarray, np.ndarray]:
    """XD magnitudes (asinh, XD_SOFTENING) of dereddened fluxes (n, 5), and their linearised errors."""
    mags = np.column_stack([mgs.asinh_mag(flux[:, j], b, XD_SOFTENING[b]) for j, b in enumerate(BANDS)])
    errs = np.column_stack([mgs.asinh_mag_error(flux[:, j], error[:, j], b, XD_SOFTENING[b])
                            for j, b in enumerate(BANDS)])
    return mags, errs


#: x = (z, J @ (u, g, r, i, z, r_petro)): rows 1.. of the linear map from magnitudes to x.
_JACOBIAN = np.array([
    [0, 0, 0, 0, 0, 1],    # r_petro
    [0, 0, 1, 0, 0, -1],   # r_model - r_petro
    [1, -1, 0, 0, 0, 0],   # u - g
    [0, 1, -1, 0, 0, 0],   # g - r
    [0, 0, 1, -1, 0, 0],   # r - i
    [0, 0, 0, 1, -1, 0],   # i - z
], dtype=float)


def xd_data(meas: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The XD inputs of the real sample: x (n, 7) in DIMENSIONS and its error covariances (n, 7, 7)."""
    meas = meas if meas is not None else real_measurements()
    deredden = 10 ** (0.4 * meas["extinction"])
    mags = xd_mags(meas["flux"] * deredden, deredden / np.sqrt(meas["ivar"]))[0]
    # Errors linearised at the kcorrect SED model's flux, not at the measured one: an error that
    # grows as the measurement scatters faint down-weights faint-scattered points and biases the
    # deconvolved u bright (u-g by -0.04 mag at z > 0.16 when linearised at the measurement).
    # The templates' median offset per band (u: model 5 % too bright) is taken out.
    model = sed.model_flux(meas["z"], meas["coeffs"])
    reference = model * np.median(meas["flux"] * deredden / model, axis=0)
    errs = xd_mags(reference, deredden / np.sqrt(meas["ivar"]))[1]
    ext_r = meas["extinction"][:, R]
    petro = mgs.asinh_mag(meas["petro_flux"], "r") - ext_r
    petro_err = mgs.asinh_mag_error(meas["petro_flux"], 1 / np.sqrt(meas["petro_ivar"]), "r")
    m = np.column_stack([mags, petro])
    var = np.column_stack([errs, petro_err]) ** 2
    n, d = len(m), len(DIMENSIONS)
    x = np.column_stack([np.log(meas["z"]), m @ _JACOBIAN.T])
    cov = np.zeros((n, d, d))
    cov[:, 0, 0] = Z_VARIANCE / meas["z"] ** 2
    cov[:, 1:, 1:] = np.einsum("ik,nk,jk->nij", _JACOBIAN, var, _JACOBIAN)
    return x, cov


def fit_trend(x: np.ndarray) -> np.ndarray:
    """Least-squares polynomials (one row per TREND_DIMENSIONS column, highest power first) of x against ln z."""
    return np.array([np.polyfit(x[:, 0], column, TREND_DEGREE) for column in x[:, TREND_DIMENSIONS].T])


def detrend(x: np.ndarray, trend: np.ndarray, sign: int = -1) -> np.ndarray:
    """x minus (sign=-1) or plus (sign=+1) the trend at each point's ln z; the error covariances are
    unchanged (the trend moves with z only, whose variance is negligible)."""
    out = np.array(x, dtype=float)
    out[:, TREND_DIMENSIONS] += sign * np.column_stack([np.polyval(c, x[:, 0]) for c in trend])
    return out


# -- extreme deconvolution ---------------------------------------------------------------------
def spd_inverse_logdet(matrices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inverses and log-determinants of symmetric positive-definite matrices (n, d, d).

    Cholesky, triangular inverse and product written out element by element, each a vector
    operation over the n matrices: for d = 7 this is ~5x faster than numpy's batched LAPACK
    calls, which cost microseconds per small matrix.
    """
    a = np.ascontiguousarray(np.moveaxis(matrices, 0, -1))  # (d, d, n)
    d = a.shape[0]
    chol = np.zeros_like(a)
    for j in range(d):
        diag = a[j, j] - (chol[j, :j] ** 2).sum(axis=0)
        if (diag <= 0).any():
            raise np.linalg.LinAlgError("spd_inverse_logdet: a matrix is not positive definite")
        chol[j, j] = np.sqrt(diag)
        for i in range(j + 1, d):
            chol[i, j] = (a[i, j] - (chol[i, :j] * chol[j, :j]).sum(axis=0)) / chol[j, j]
    inv_chol = np.zeros_like(a)  # L^-1, lower triangular
    for i in range(d):
        inv_chol[i, i] = 1.0 / chol[i, i]
        for j in range(i):
            inv_chol[i, j] = -(chol[i, j:i] * inv_chol[j:i, j]).sum(axis=0) / chol[i, i]
    inverse = np.empty_like(a)  # (L L^T)^-1 = L^-T L^-1
    for i in range(d):
        for j in range(i + 1):
            inverse[i, j] = inverse[j, i] = (inv_chol[i:, i] * inv_chol[i:, j]).sum(axis=0)
    logdet = 2 * np.log(np.diagonal(chol, axis1=0, axis2=1)).sum(axis=1)
    return np.moveaxis(inverse, -1, 0), logdet


def _component_terms(x, cov, mu, sigma):
    """log N(x_i; mu, sigma + cov_i) and (sigma + cov_i)^-1 for one component."""
    t_inv, logdet = spd_inverse_logdet(cov + sigma)
    diff = x - mu
    maha = (diff * (t_inv @ diff[:, :, None])[..., 0]).sum(axis=1)
    return -0.5 * (maha + logdet + x.shape[1] * np.log(2 * np.pi)), t_inv


def xd_log_likelihood(x, cov, alpha, mu, sigma) -> np.ndarray:
    """Per-point log-likelihood of measurements x with error covariances cov under the mixture."""
    logn = np.column_stack([_component_terms(x, cov, mu[k], sigma[k])[0] for k in range(len(alpha))])
    return np.logaddexp.reduce(logn + np.log(alpha), axis=1)


def xd_fit(x: np.ndarray, cov: np.ndarray, n_components: int, seed: int = 0, max_iter: int = 500,
           tol: float = 1e-6, regularisation: float = XD_REGULARISATION) -> dict:
    """Extreme deconvolution (Bovy, Hogg & Roweis 2011, EM of their section 2.2).

    Fits alpha_k, mu_k, Sigma_k such that x_i ~ sum_k alpha_k N(mu_k, Sigma_k + cov_i).
    Starts from a Gaussian mixture of the noisy x (scikit-learn, ``seed``); stops when the mean
    log-likelihood per point rises by less than ``tol``.  Returns the mixture, its mean
    log-likelihood per point and the number of iterations.
    """
    from sklearn.mixture import GaussianMixture  # lazy: ~1 s of import in every simulator worker; only the offline fit

    x, cov = np.asarray(x, float), np.asarray(cov, float)
    n, d = x.shape
    if cov.shape != (n, d, d):
        raise ValueError(f"xd_fit: covariances must have shape {(n, d, d)}, got {cov.shape}")
    init = GaussianMixture(n_components, covariance_type="full", random_state=seed, reg_covar=1e-6).fit(x)
    alpha, mu, sigma = init.weights_.copy(), init.means_.copy(), init.covariances_.copy()
    previous = -np.inf
    for iteration in range(1, max_iter + 1):
        terms = [_component_terms(x, cov, mu[k], sigma[k]) for k in range(n_components)]
        logq = np.column_stack([t[0] for t in terms]) + np.log(alpha)
        loglike = np.logaddexp.reduce(logq, axis=1)
        q = np.exp(logq - loglike[:, None])
        for k, (_, t_inv) in enumerate(terms):
            weight = q[:, k] / q[:, k].sum()
            gain = sigma[k] @ t_inv                          # Sigma T^-1, (n, d, d)
            b = mu[k] + (gain @ (x - mu[k])[:, :, None])[..., 0]  # expected true values
            # sum_i w_i B_i with B_i = Sigma - Sigma T_i^-1 Sigma
            spread = sigma[k] - np.tensordot(weight, gain, axes=1) @ sigma[k]
            mu[k] = weight @ b
            r = b - mu[k]
            sigma[k] = (r * weight[:, None]).T @ r + spread + regularisation * np.eye(d)
            sigma[k] = 0.5 * (sigma[k] + sigma[k].T)
        alpha = q.mean(axis=0)
        mean = loglike.mean()
        if mean - previous < tol:
            break
        previous = mean
    loglike = xd_log_likelihood(x, cov, alpha, mu, sigma).mean()
    return dict(alpha=alpha, mu=mu, sigma=sigma, mean_log_likelihood=float(loglike), iterations=iteration)


def n_parameters(n_components: int, d: int) -> int:
    return n_components * (d + d * (d + 1) // 2) + n_components - 1


def bic(fit: dict, n: int) -> float:
    """Bayesian information criterion of an XD fit to n points (lower is better)."""
    k, d = fit["mu"].shape
    return -2 * n * fit["mean_log_likelihood"] + n_parameters(k, d) * np.log(n)


def catalogue_sha256(path=None) -> str:
    return hashlib.sha256(Path(path or mgs.mgs_path()).read_bytes()).hexdigest()


def columns(names) -> list[int]:
    """Indices of the named dimensions in DIMENSIONS."""
    return [DIMENSIONS.index(name) for name in names]


def select(x: np.ndarray, cov: np.ndarray, names) -> tuple[np.ndarray, np.ndarray]:
    """x and its error covariances restricted to the named dimensions."""
    i = columns(names)
    return x[:, i], cov[:, i][:, :, i]


def model_path(name: str) -> Path:
    return MODEL_DIR / f"xd_{name}.npz"


def save_model(name: str, fit: dict, trend: np.ndarray, **provenance) -> None:
    """Write the mixture ``name`` of MIXTURES, fitted to detrend(x, trend), with its provenance."""
    np.savez(model_path(name), alpha=fit["alpha"], mu=fit["mu"], sigma=fit["sigma"], trend=trend,
             dimensions=np.array(MIXTURES[name]), **{k: np.asarray(v) for k, v in provenance.items()})


@functools.lru_cache(maxsize=4)
def load_model(name: str = "population") -> dict:
    """A committed XD mixture (alpha, mu, sigma, the Cholesky factors of sigma and the trend)."""
    path = model_path(name)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: the XD {name} model is missing (run scripts/fit_population.py)")
    with np.load(path) as f:
        model = {k: f[k] for k in f.files}
    if tuple(model["dimensions"]) != MIXTURES[name]:
        raise ValueError(f"{path}: dimensions {tuple(model['dimensions'])} differ from {MIXTURES[name]}; refit it")
    model["chol"] = np.linalg.cholesky(model["sigma"])
    return model


# -- new galaxies ----------------------------------------------------------------------------
def mags_from_x(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(dereddened ugriz XD magnitudes (n, 5), r_petro) of points x in DIMENSIONS."""
    r_petro = x[:, 1]
    r = r_petro + x[:, 2]
    g = r + x[:, 4]
    u = g + x[:, 3]
    i = r - x[:, 5]
    return np.column_stack([u, g, r, i, i - x[:, 6]]), r_petro


def flux_from_asinh_mag(mag, band: str) -> np.ndarray:
    """Inverse of :func:`xd_mags`: nanomaggies (negative beyond the zero-flux magnitude)."""
    b = XD_SOFTENING[band]
    return 2 * b * np.sinh(-np.asarray(mag, float) / mgs.POGSON - np.log(b)) * 1e9


def draw_mixture(model: dict, m: int, rng: np.random.Generator) -> np.ndarray:
    """``m`` draws from a mixture (in its detrended dimensions)."""
    comp = rng.choice(len(model["alpha"]), size=m, p=model["alpha"] / model["alpha"].sum())
    eps = rng.standard_normal((m, model["mu"].shape[1]))
    return model["mu"][comp] + np.einsum("nij,nj->ni", model["chol"][comp], eps)


def draw_conditional(model: dict, given: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Draws of a mixture's last dimension given its others (one draw per row of ``given``).

    The conditional of a Gaussian mixture is one: component k has weight proportional to
    alpha_k N(given; mu_k, Sigma_k) over the given dimensions, mean mu_kb + S_ba S_aa^-1
    (given - mu_ka) and variance S_bb - S_ba S_aa^-1 S_ab.
    """
    mu, sigma = model["mu"], model["sigma"]
    s_aa, s_ab = sigma[:, :-1, :-1], sigma[:, :-1, -1]
    gain = np.linalg.solve(s_aa, s_ab[..., None])[..., 0]            # (K, d-1)
    variance = sigma[:, -1, -1] - (gain * s_ab).sum(axis=1)
    diff = given[:, None, :] - mu[:, :-1]                               # (n, K, d-1)
    maha = np.einsum("nki,kij,nkj->nk", diff, np.linalg.inv(s_aa), diff)
    log_w = np.log(model["alpha"]) - 0.5 * (maha + np.linalg.slogdet(s_aa)[1])
    w = np.exp(log_w - log_w.max(axis=1, keepdims=True))
    cumulative = np.cumsum(w / w.sum(axis=1, keepdims=True), axis=1)
    comp = np.minimum((cumulative < rng.random(len(given))[:, None]).sum(axis=1), len(mu) - 1)
    mean = mu[comp, -1] + (diff[np.arange(len(given)), comp] * gain[comp]).sum(axis=1)
    return mean + np.sqrt(variance[comp]) * rng.standard_normal(len(given))


def _draw_block(m: int, rng: np.random.Generator) -> np.ndarray:
    """``m`` noise-free points in DIMENSIONS: the population's, with the deficit drawn given them."""
    population, deficit = load_model("population"), load_model("deficit")
    x = np.zeros((m, len(DIMENSIONS)))
    x[:, columns(MIXTURES["population"])] = draw_mixture(population, m, rng)
    given, drawn = columns(MIXTURES["deficit"][:-1]), columns(MIXTURES["deficit"][-1:])
    x[:, drawn[0]] = draw_conditional(deficit, x[:, given], rng)
    return detrend(x, population["trend"], +1)


def draw_truths(n: int, rng: np.random.Generator) -> dict:
    """``n`` new galaxies' true z, dereddened fluxes (n, 5) and r_petro, within the paper's cuts.

    Blocks of DRAW_BLOCK draws from the mixture until n pass: 0 < z <= 0.4, r_petro <= 17.8
    (true values) and positive fluxes in every band.
    """
    parts, made = [], 0
    while made < n:
        x = _draw_block(DRAW_BLOCK, rng)
        z, (mags, r_petro) = np.exp(x[:, 0]), mags_from_x(x)
        flux = np.column_stack([flux_from_asinh_mag(mags[:, j], b) for j, b in enumerate(BANDS)])
        ok = (z > config.Z_MIN) & (z <= config.Z_MAX) & (r_petro <= config.R_PETRO_MAX) & (flux > 0).all(axis=1)
        parts.append((z[ok], flux[ok], r_petro[ok]))
        made += int(ok.sum())
    z, flux, r_petro = (np.concatenate(p)[:n] for p in zip(*parts))
    return dict(z=z, flux=flux, petro_r=r_petro)


def _colours(flux: np.ndarray) -> np.ndarray:
    mag = nanomaggies_to_mag(flux)
    return -np.diff(mag, axis=1)  # (u-g, g-r, r-i, i-z)


@functools.lru_cache(maxsize=1)
def _sed_tree():
    real = load_real_galaxies()
    features = np.column_stack([real.z, _colours(real.flux)]) / SED_NEIGHBOUR_SCALE
    return cKDTree(features), real.objid, real.coeffs


def nearest_sed(z: np.ndarray, flux: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(objid, kcorrect coefficients) of each galaxy's nearest real galaxy in (z, colours).

    The coefficients are rescaled to the galaxy's r flux, so ``sed.model_flux(z, coeffs)``
    has its r flux (a K-correction depends on the SED's shape only).
    """
    tree, objid, coeffs = _sed_tree()
    _, nearest = tree.query(np.column_stack([z, _colours(flux)]) / SED_NEIGHBOUR_SCALE)
    c = coeffs[nearest]
    scale = flux[:, R] / by_blocks(sed.model_flux, z, c)[:, R]
    return objid[nearest], c * scale[:, None].astype(c.dtype)


def draw_population(n: int, rng: np.random.Generator) -> Population:
    """``n`` new galaxies drawn from the XD model: noise-free fluxes, positions and E(B-V) of real ones.

    ``flux_error`` is the median SDSS error at each true flux (:func:`fit_flux_error_model`):
    what SDSS would have measured the galaxy with, not noise that the fluxes carry.
    """
    truths = draw_truths(n, rng)
    meas = real_measurements()
    donor = rng.integers(len(meas["z"]), size=n)
    parent, coeffs = nearest_sed(truths["z"], truths["flux"])
    ebv = meas["ebv"][donor]
    transmission = 10 ** (-0.4 * np.outer(ebv, [config.EXTINCTION_COEFF[b] for b in BANDS]))
    error = median_flux_error(flux_error_model(), truths["flux"] * transmission) / transmission
    return Population(
        objid=real.SIMULATED_OBJID_OFFSET + np.arange(1, n + 1, dtype=np.int64), parent_objid=parent,
        is_real=np.zeros(n, bool), ra=meas["ra"][donor], dec=meas["dec"][donor], ebv=ebv, z=truths["z"],
        flux=truths["flux"], flux_error=error, petro_r=truths["petro_r"], coeffs=coeffs)


# -- SDSS-like errors and re-observation ---------------------------------------------------------
def fit_flux_error_model(flux: np.ndarray, ivar: np.ndarray, n_bins: int = 25) -> list[dict]:
    """Per band, SDSS's flux error against flux: median log10 error in flux-quantile bins and the
    residuals about it in each bin (the spread of errors at fixed flux: sizes, fields)."""
    model = []
    for j in range(flux.shape[1]):
        f, log_err = flux[:, j], -0.5 * np.log10(ivar[:, j])
        ok = f > 0
        edges = np.quantile(np.log10(f[ok]), np.linspace(0, 1, n_bins + 1))
        which = np.clip(np.searchsorted(edges, np.log10(f[ok]), side="right") - 1, 0, n_bins - 1)
        centre = np.array([np.median(np.log10(f[ok])[which == k]) for k in range(n_bins)])
        median = np.array([np.median(log_err[ok][which == k]) for k in range(n_bins)])
        residuals = [log_err[ok][which == k] - median[k] for k in range(n_bins)]
        model.append(dict(centre=centre, median=median, residuals=residuals))
    return model


@functools.lru_cache(maxsize=1)
def flux_error_model() -> list[dict]:
    """:func:`fit_flux_error_model` of the real sample's observed model fluxes."""
    meas = real_measurements()
    return fit_flux_error_model(meas["flux"], meas["ivar"])


def median_flux_error(model: list[dict], flux: np.ndarray) -> np.ndarray:
    """Median SDSS error (nanomaggies) at observed fluxes (n, 5); flat beyond the fitted range."""
    log_f = np.log10(np.maximum(flux, 1e-3))
    return np.column_stack([10 ** np.interp(log_f[:, j], m["centre"], m["median"]) for j, m in enumerate(model)])


def draw_flux_error(model: list[dict], flux: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """SDSS-like errors at observed fluxes (n, 5): the median times a residual of the nearest flux bin."""
    error = median_flux_error(model, flux)
    log_f = np.log10(np.maximum(flux, 1e-3))
    for j, m in enumerate(model):
        nearest = np.abs(log_f[:, j, None] - m["centre"]).argmin(axis=1)
        for k in np.unique(nearest):
            rows = np.flatnonzero(nearest == k)
            error[rows, j] *= 10 ** rng.choice(m["residuals"][k], size=len(rows))
    return error


def reobserve(pop: Population, rng: np.random.Generator) -> np.ndarray:
    """Dereddened asinh magnitudes (n, 5) of noise-free galaxies observed with SDSS-like errors."""
    transmission = 10 ** (-0.4 * np.outer(pop.ebv, [config.EXTINCTION_COEFF[b] for b in BANDS]))
    observed = pop.flux * transmission
    error = draw_flux_error(flux_error_model(), observed, rng)
    noisy = observed + error * rng.standard_normal(observed.shape)
    return dereddened_mags(noisy, error, -2.5 * np.log10(transmission))[0]


def reobservation_table(n_sim: int = 10_000, seed: int = 0, z_edges=REOBSERVATION_Z_EDGES) -> Table:
    """Colours of re-observed drawn truths against the real catalogue's, per redshift bin.

    Both sides use the catalogue's magnitudes (dereddened asinh magnitudes of model fluxes).
    Columns: colour, z_lo, z_hi, n_real, n_sim, median_offset (sim - real, mag) and its
    standard error offset_err (1.2533 sigma sqrt(1/n_real + 1/n_sim)), scatter_ratio
    (sigma_MAD sim / real) and its standard error ratio_err (1.166 sqrt(1/n_real + 1/n_sim),
    Gaussian), ks_p (two-sample Kolmogorov-Smirnov).  A last row per colour pools all
    redshifts (z_lo, z_hi = the full range).
    """
    from scipy.stats import ks_2samp  # lazy: scipy.stats costs every simulator worker ~0.3 s; only this check

    meas = real_measurements()
    real_mags = dereddened_mags(meas["flux"], 1 / np.sqrt(meas["ivar"]), meas["extinction"])[0]
    pop = draw_population(n_sim, stream(seed, STREAM_SAMPLE))
    sim_mags = reobserve(pop, stream(seed, STREAM_REOBSERVE))
    bins = list(zip(z_edges[:-1], z_edges[1:])) + [(z_edges[0], z_edges[-1])]
    rows = []
    for a, b in COLOURS:
        ia, ib = BANDS.index(a), BANDS.index(b)
        for lo, hi in bins:
            real = (real_mags[:, ia] - real_mags[:, ib])[(meas["z"] > lo) & (meas["z"] <= hi)]
            sim = (sim_mags[:, ia] - sim_mags[:, ib])[(pop.z > lo) & (pop.z <= hi)]
            root_n = np.sqrt(1 / len(real) + 1 / len(sim))
            rows.append((f"{a}-{b}", lo, hi, len(real), len(sim), np.median(sim) - np.median(real),
                         1.2533 * sigma_mad(real) * root_n, sigma_mad(sim) / sigma_mad(real), 1.166 * root_n,
                         ks_2samp(sim, real).pvalue))
    return Table(rows=rows, names=("colour", "z_lo", "z_hi", "n_real", "n_sim", "median_offset", "offset_err",
                                   "scatter_ratio", "ratio_err", "ks_p"))


def format_reobservation_table(table: Table) -> str:
    """:func:`reobservation_table` as Markdown: a row per colour and redshift bin (the last per colour: all)."""
    lines = ["| colour | z | n real / sim | median offset [mag] | scatter ratio sim/real | KS p |",
             "|---|---|---:|---:|---:|---:|"]
    lines += [f"| {r['colour']} | {r['z_lo']:g}–{r['z_hi']:g} | {r['n_real']} / {r['n_sim']} "
              f"| {r['median_offset']:+.3f} ± {r['offset_err']:.3f} | {r['scatter_ratio']:.3f} ± {r['ratio_err']:.3f} "
              f"| {r['ks_p']:.3f} |" for r in table]
    return "\n".join(lines)


def timed_draw(n: int, seed: int = 0) -> float:
    """Seconds to draw ``n`` galaxies (for the report)."""
    start = time.perf_counter()
    draw_population(n, stream(seed, STREAM_SAMPLE))
    return time.perf_counter() - start
