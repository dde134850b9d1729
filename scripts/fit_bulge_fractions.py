"""Calibrate the early types' bulge fractions on the whole real sample (developer script, not run by tests).

The survey-wide structural number of kcorrect's 9,811 real MGS galaxies is r_model - r_petro: a
Petrosian aperture (2 R_P) holds ~80 % of a de Vaucouleurs profile and ~98 % of an exponential one,
so the more bulge-dominated a galaxy, the more light its Petrosian flux misses.  SDSS's model
magnitude is the better (chi^2) of a PSF-convolved de Vaucouleurs and an exponential fit in r, whose
totals are truncated profiles (deV smoothly to zero between 7 and 8 r_e, exp between 3 and 4 r_e:
TRUNCATED_TOTAL of the untruncated flux).  The simulator's own model flux fits the galaxy's own
bulge + disk instead (photometry.measure_galaxy), so its r_model - r_petro is not SDSS's: here each
simulated stamp's r child is fitted as SDSS does (free r_e, b/a, position angle; flux linear) and
the quantiles of r_model - r_petro of red (u - r > 2.22) and blue galaxies are printed against
the real catalogue's, for early types' mean B/T over ``MEANS`` (Beta with a + b as in
galaxies.BULGE_FRAC_BETA).

    python scripts/fit_bulge_fractions.py [--n-fit 400] [--seed 7] [--means 0.55 0.7 0.8 0.9]
"""
from __future__ import annotations

import argparse

import numpy as np
from scipy.optimize import least_squares

from photoz_nb import config, mgs
from photoz_nb.simulate import galaxies, photometry, population, render

R = config.BANDS.index("r")
QUANTILES = (10, 25, 50, 75, 90)
RED_U_MINUS_R = galaxies.EARLY_TYPE_U_MINUS_R
#: Fraction of an untruncated profile's flux that SDSS's truncated model holds (numerical integral).
TRUNCATED_TOTAL = {"devaucouleurs": 0.937, "exponential": 0.981}


def real_deficits() -> tuple[np.ndarray, np.ndarray]:
    """(r_model - r_petro, dereddened u - r) of the real sample."""
    m = population.real_measurements()
    u, r = (mgs.asinh_mag(m["flux"][:, j], b) - m["extinction"][:, j] for j, b in ((0, "u"), (R, "r")))
    petro = mgs.asinh_mag(m["petro_flux"], "r") - m["extinction"][:, R]
    return r - petro, u - r


def _start(child: np.ndarray, centre, hlr: float) -> list[float]:
    """(ln r_e, logit b/a, position angle) from the child's second moments within 3 r_e."""
    yy, xx = np.mgrid[:config.STAMP, :config.STAMP]
    dx, dy = xx - centre[0], yy - centre[1]
    w = (np.hypot(dx, dy) < max(3 * hlr, 6)) * np.clip(child, 0, None)
    ixx, iyy, ixy = (w * dx * dx).sum(), (w * dy * dy).sum(), (w * dx * dy).sum()
    small, large = np.linalg.eigvalsh([[ixx, ixy], [ixy, iyy]])
    q = float(np.clip(np.sqrt(max(small, 1e-9) / large), 0.1, 0.95))
    return [float(np.clip(np.log(hlr), np.log(0.4), np.log(25))), np.log(q / (1 - q)),
            0.5 * float(np.arctan2(2 * ixy, ixx - iyy))]


def sdss_model_flux(child: np.ndarray, sigma: np.ndarray, params: dict, i: int) -> float:
    """SDSS's model flux of row ``i``'s r child: the better fit of the two truncated profiles."""
    centre = photometry.centre(params, i)
    y = (child / sigma).ravel()

    def template(profile, p):
        c = render.Component(profile, [1.0], float(np.exp(p[0])), float(1 / (1 + np.exp(-p[1]))), float(p[2]),
                             float(params["dx"][i]), float(params["dy"][i]))
        return (render.render_stamp([c], [params["psf"][i][R]], bands=("r",),
                                    wing_scale=params["psf_wing_scale"][i])[0] / sigma).ravel()

    fits = []
    for profile in TRUNCATED_TOTAL:
        def residual(p):
            t = template(profile, p)
            return y - (t @ y) / (t @ t) * t
        guess = params["hlr_bulge" if profile == "devaucouleurs" else "hlr_disk"][i]
        sol = least_squares(residual, _start(child, centre, max(guess, 0.5)), x_scale=[0.3, 1, 0.5],
                            max_nfev=200, bounds=([np.log(0.3), -4, -10], [np.log(30), 6, 10]))
        t = template(profile, sol.x)
        fits.append((sol.cost, (t @ y) / (t @ t) * TRUNCATED_TOTAL[profile]))
    return min(fits)[1]


def simulated_deficits(n: int, n_fit: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(r_model - r_petro with SDSS's model flux, u - r) of ``n_fit`` of ``n`` simulated galaxies."""
    table, params = galaxies.make_catalog(n, seed)
    rows = np.linspace(0, n - 1, n_fit).astype(int)
    deficit = np.empty(len(rows))
    for k, i in enumerate(rows):
        rendered = photometry.render_galaxy(params, i)
        clean = rendered.stamp
        image = photometry.noisy_image(params, i, seed, i, clean)
        weight = photometry.deblend_weight(clean, rendered, params, i)
        w = 1.0 if weight is None else weight[R]
        variance = params["noise_native"][i][R] ** 2 + np.maximum(clean[R] * w * w, 0) / params["electrons_per_nmgy"][i][R]
        petro = photometry.measure_galaxy(image, clean, rendered, params, i)[3][R]
        deficit[k] = -2.5 * np.log10(sdss_model_flux(image[R] * w, np.sqrt(variance), params, i) / petro)
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
