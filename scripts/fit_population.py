"""Refit the simulator's noise-free galaxy population (photoz_nb/simulate/xd_population.npz).

Extreme deconvolution of the real MGS sample (see photoz_nb.simulate.population) for each
number of components in K_VALUES; the one with the lowest BIC is saved with its provenance
(kcorrect catalogue SHA-256, seed, tolerance, the BIC of every K tried).  Deterministic:
the same catalogue and seed give the same file.

    python scripts/fit_population.py [--out PATH] [K ...]
"""
import argparse
import time

import numpy as np

from photoz_nb.simulate import population

K_VALUES = (8, 12, 14, 16, 18, 20, 24)
SEED, TOL = 0, 1e-4


def main(k_values=K_VALUES, out=population.MODEL_PATH):
    x, cov = population.xd_data()
    fits, bics, seconds = {}, {}, {}
    for k in k_values:
        start = time.process_time()
        fits[k] = population.xd_fit(x, cov, k, seed=SEED, tol=TOL)
        seconds[k] = time.process_time() - start
        bics[k] = population.bic(fits[k], len(x))
        print(f"K={k:3d}  iterations {fits[k]['iterations']:4d}  mean log L {fits[k]['mean_log_likelihood']:.5f}  "
              f"BIC {bics[k]:.1f}  CPU {seconds[k]:.1f} s", flush=True)
        best = min(bics, key=bics.get)  # saved as it goes: a stopped scan leaves its best so far
        population.save_model(fits[best], out, catalogue_sha256=population.catalogue_sha256(),
                              n_galaxies=len(x), seed=SEED, tol=TOL, iterations=fits[best]["iterations"],
                              mean_log_likelihood=fits[best]["mean_log_likelihood"],
                              k_tried=np.array(list(bics)), bic_tried=np.array(list(bics.values())),
                              fit_cpu_seconds=seconds[best])
    print(f"lowest BIC: K={best}; wrote {out}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("k", nargs="*", type=int, default=K_VALUES, help="numbers of components to try")
    parser.add_argument("--out", default=population.MODEL_PATH, help="output .npz (default: the package's)")
    args = parser.parse_args()
    main(tuple(args.k), args.out)
