"""Refit the simulator's noise-free galaxy population (photoz_nb/simulate/xd_population.npz).

Extreme deconvolution of the real MGS sample (see photoz_nb.simulate.population; colours
minus their cubic trend in z).  The number of components is the one of K_VALUES with the
highest held-out likelihood, 5-fold cross-validated: each K is fitted to 80 % of the galaxies and scored on
the other 20 %, five times (BIC, also printed, penalises the ~36 parameters per component so
much that its choice, K = 16, leaves 3-4 sigma colour mismatches in redshift bins; one 80/20
split alone is too noisy to choose between 24 and 32).  The chosen K
is then refitted to all galaxies and saved with its provenance (kcorrect catalogue SHA-256,
seed, tolerance, the scores of every K).  Deterministic: same catalogue and seed, same file.

    python scripts/fit_population.py [--out PATH] [K ...]
"""
import argparse
import time

import numpy as np

from photoz_nb.simulate import population

K_VALUES = (24, 32, 40)
SEED, TOL, FOLDS = 0, 1e-4, 5


def main(k_values=K_VALUES, out=population.MODEL_PATH):
    x, cov = population.xd_data()
    trend = population.fit_trend(x)
    x = population.detrend(x, trend)
    fold = np.random.default_rng(SEED).permutation(len(x)) % FOLDS
    held_out, bics = {}, {}
    for k in k_values:
        start = time.process_time()
        scores = []
        for f in range(FOLDS):
            train, test = fold != f, fold == f
            fit = population.xd_fit(x[train], cov[train], k, seed=SEED, tol=TOL)
            scores.append(population.xd_log_likelihood(x[test], cov[test], fit["alpha"], fit["mu"], fit["sigma"]))
        held_out[k] = np.concatenate(scores).mean()
        bics[k] = population.bic(fit, int(train.sum()))
        print(f"K={k:3d}  held-out mean log L {held_out[k]:.5f} (folds {', '.join(f'{v.mean():.4f}' for v in scores)})"
              f"  BIC(last fold's training set) {bics[k]:.1f}  CPU {time.process_time() - start:.1f} s", flush=True)
    best = max(held_out, key=held_out.get)
    start = time.process_time()
    fit = population.xd_fit(x, cov, best, seed=SEED, tol=TOL)
    seconds = time.process_time() - start
    print(f"highest held-out likelihood: K={best}; all {len(x)} galaxies: {fit['iterations']} iterations, "
          f"CPU {seconds:.1f} s; writing {out}")
    population.save_model(fit, trend, out, catalogue_sha256=population.catalogue_sha256(), n_galaxies=len(x),
                          seed=SEED, tol=TOL, folds=FOLDS, iterations=fit["iterations"],
                          mean_log_likelihood=fit["mean_log_likelihood"], k_tried=np.array(list(held_out)),
                          held_out_log_likelihood=np.array(list(held_out.values())),
                          bic_train=np.array(list(bics.values())), fit_cpu_seconds=seconds)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("k", nargs="*", type=int, default=K_VALUES, help="numbers of components to try")
    parser.add_argument("--out", default=population.MODEL_PATH, help="output .npz (default: the package's)")
    args = parser.parse_args()
    main(tuple(args.k), args.out)
