"""Refit the simulator's noise-free galaxy population (photoz_nb/simulate/xd_*.npz).

Extreme deconvolution of the real MGS sample (see photoz_nb.simulate.population; colours
minus their cubic trend in ln z), one fit per mixture of population.MIXTURES.  Each mixture's
number of components is the one of K_VALUES with the highest held-out likelihood, 5-fold
cross-validated: each K is fitted to 80 % of the galaxies and scored on the other 20 %, five
times.  The population is scored on all its dimensions; the deficit mixture, used only as the
conditional of r_model - r_petro given the others, on that conditional likelihood.  (BIC, saved,
penalises the ~28 parameters per population component so much that its choice leaves 3-4 sigma
colour mismatches in redshift bins; one 80/20 split alone is too noisy to choose between
neighbouring K.)  The chosen K is then refitted to all galaxies and saved with its
provenance (kcorrect catalogue SHA-256, seed, tolerance, the scores of every K).
Deterministic: same catalogue and seed, same files.

    python scripts/fit_population.py [--only population|deficit]
"""
import argparse
import functools
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from photoz_nb.simulate import population

K_VALUES = {"population": (16, 24, 32), "deficit": (8, 12, 16, 24)}
SEED, TOL, FOLDS = 0, 1e-4, 5


def held_out_score(name: str, fit: dict, x: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """Per-galaxy log-likelihood of what the mixture is used for (see the module docstring)."""
    def log_likelihood(d):
        return population.xd_log_likelihood(x[:, :d], cov[:, :d, :d], fit["alpha"], fit["mu"][:, :d],
                                            fit["sigma"][:, :d, :d])
    d = x.shape[1]
    return log_likelihood(d) - log_likelihood(d - 1) if name == "deficit" else log_likelihood(d)


def fold_score(name: str, x: np.ndarray, cov: np.ndarray, fold: np.ndarray, job: tuple[int, int]) -> np.ndarray:
    """Held-out scores of fold f of a K-component fit to the other folds (job = (K, f))."""
    k, f = job
    train, test = fold != f, fold == f
    fit = population.xd_fit(x[train], cov[train], k, seed=SEED, tol=TOL)
    return held_out_score(name, fit, x[test], cov[test])


def fit_mixture(name: str, x_all: np.ndarray, cov_all: np.ndarray, trend: np.ndarray) -> None:
    x, cov = population.select(x_all, cov_all, population.MIXTURES[name])
    fold = np.random.default_rng(SEED).permutation(len(x)) % FOLDS
    jobs = [(k, f) for k in K_VALUES[name] for f in range(FOLDS)]
    start = time.perf_counter()
    # spawn: a forked worker can hang on the BLAS threads the previous fit left in this process
    with ProcessPoolExecutor(os.cpu_count(), mp_context=multiprocessing.get_context("spawn")) as pool:
        scores = list(pool.map(functools.partial(fold_score, name, x, cov, fold), jobs))
    held_out = {k: np.concatenate([s for (kk, _), s in zip(jobs, scores) if kk == k]).mean() for k in K_VALUES[name]}
    for k, v in held_out.items():
        folds = [s.mean() for (kk, _), s in zip(jobs, scores) if kk == k]
        print(f"{name} K={k:3d}  held-out mean log L {v:.5f} (folds {', '.join(f'{m:.4f}' for m in folds)})", flush=True)
    print(f"{name}: cross-validation {time.perf_counter() - start:.0f} s", flush=True)
    best = max(held_out, key=held_out.get)
    start = time.process_time()
    fit = population.xd_fit(x, cov, best, seed=SEED, tol=TOL)
    seconds = time.process_time() - start
    print(f"{name}: highest held-out likelihood at K={best}; all {len(x)} galaxies: {fit['iterations']} iterations, "
          f"CPU {seconds:.1f} s; writing {population.model_path(name)}", flush=True)
    population.save_model(name, fit, trend, catalogue_sha256=population.catalogue_sha256(), n_galaxies=len(x),
                          seed=SEED, tol=TOL, folds=FOLDS, iterations=fit["iterations"],
                          mean_log_likelihood=fit["mean_log_likelihood"], k_tried=np.array(list(held_out)),
                          held_out_log_likelihood=np.array(list(held_out.values())),
                          bic=population.bic(fit, len(x)), fit_cpu_seconds=seconds)


def main(names):
    x, cov = population.xd_data()
    trend = population.fit_trend(x)
    x = population.detrend(x, trend)
    for name in names:
        fit_mixture(name, x, cov, trend)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", choices=list(population.MIXTURES), help="refit one mixture (default: both)")
    args = parser.parse_args()
    main([args.only] if args.only else list(population.MIXTURES))
