"""Calibrate the early types' bulge fractions on the whole real sample (developer script, not run by tests).

The survey-wide structural number of kcorrect's 9,811 real MGS galaxies is r_model - r_petro: a
Petrosian aperture (2 R_P) holds ~80 % of a de Vaucouleurs profile and ~98 % of an exponential one,
so the more bulge-dominated a galaxy, the more light its Petrosian flux misses.  SDSS's model
magnitude is the better (chi^2) of a PSF-convolved de Vaucouleurs and an exponential fit in r, whose
totals are truncated profiles (deV smoothly to zero between 7 and 8 r_e, exp between 3 and 4 r_e:
modelfit.TRUNCATED_TOTAL of the untruncated flux).  The simulator's own model flux fits the galaxy's own
bulge + disk instead (photometry.measure_galaxy), so its r_model - r_petro is not SDSS's: here each
simulated stamp's r child is fitted as SDSS does (photoz_nb.simulate.modelfit) and
the quantiles of r_model - r_petro of red (u - r > 2.22) and blue galaxies are printed against
the real catalogue's, for early types' mean B/T over ``MEANS`` (Beta with a + b as in
galaxies.BULGE_FRAC_BETA).

    python scripts/fit_bulge_fractions.py [--n-fit 400] [--seed 7] [--means 0.55 0.7 0.8 0.9]
"""
from __future__ import annotations

import argparse

import numpy as np

from photoz_nb import config, mgs
from photoz_nb.simulate import galaxies, modelfit, photometry, population

R = config.BANDS.index("r")
QUANTILES = (10, 25, 50, 75, 90)
RED_U_MINUS_R = galaxies.EARLY_TYPE_U_MINUS_R


def real_deficits() -> tuple[np.ndarray, np.ndarray]:
    """(r_model - r_petro, dereddened u - r) of the real sample."""
    m = population.real_measurements()
    u, r = (mgs.asinh_mag(m["flux"][:, j], b) - m["extinction"][:, j] for j, b in ((0, "u"), (R, "r")))
    petro = mgs.asinh_mag(m["petro_flux"], "r") - m["extinction"][:, R]
    return r - petro, u - r


def simulated_deficits(n: int, n_fit: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(r_model - r_petro with SDSS's model flux, u - r) of ``n_fit`` of ``n`` simulated galaxies."""
    table, params = galaxies.make_catalog(n, seed)
    rows = np.linspace(0, n - 1, n_fit).astype(int)
    deficit = np.empty(len(rows))
    for k, i in enumerate(rows):
        rendered = photometry.render_galaxy(params, i)
        image = photometry.noisy_image(params, i, seed, i, rendered.stamp)
        petro = photometry.measure_galaxy(image, rendered.stamp, rendered, params, i)[3][R]
        deficit[k] = -2.5 * np.log10(modelfit.sdss_model_fluxes(image, rendered, params, i)[R] / petro)
    u_minus_r = np.asarray(table["mag_u"])[rows] - np.asarray(table["mag_r"])[rows]
    return deficit, u_minus_r


def quantile_rows(deficit, u_minus_r) -> dict:
    return {colour: (np.percentile(deficit[s], QUANTILES), int(s.sum()))
            for colour, s in (("red", u_minus_r > RED_U_MINUS_R), ("blue", u_minus_r <= RED_U_MINUS_R))}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=3000, help="galaxies drawn (their peers rank the B/T)")
    parser.add_argument("--n-fit", type=int, default=400, help="stamps fitted per mean")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--means", type=float, nargs="+", default=[0.55, 0.7, 0.8, 0.9])
    args = parser.parse_args()
    real = quantile_rows(*real_deficits())
    k = sum(galaxies.BULGE_FRAC_BETA["early"])
    print("r_model - r_petro quantiles " + " ".join(f"p{q}" for q in QUANTILES))
    for colour, (q, n) in real.items():
        print(f"real {colour:4s} ({n:5d})        " + " ".join(f"{v:+.3f}" for v in q))
    for mean in args.means:
        galaxies.BULGE_FRAC_BETA["early"] = (k * mean, k * (1 - mean))
        for colour, (q, n) in quantile_rows(*simulated_deficits(args.n, args.n_fit, args.seed)).items():
            rms = np.sqrt(np.mean((q[1:] - real[colour][0][1:]) ** 2))  # p10 is beyond any n <= 4 profile
            print(f"B/T {mean:.2f} {colour:4s} ({n:4d}) " + " ".join(f"{v:+.3f}" for v in q) + f"  rms p25-p90 {rms:.3f}")


if __name__ == "__main__":
    main()
