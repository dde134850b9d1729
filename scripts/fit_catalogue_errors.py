"""Fit the simulator's model-fit and Petrosian error floors to the real SDSS catalogue's errors (developer script).

The simulated catalogue's model magnitudes are measured on the stamps
(:mod:`photoz_nb.simulate.photometry`); their scatter about the truth is compared, per band and
magnitude bin (quantiles of the real magnitudes), with the median error that the real catalogue
quotes (kcorrect's 9,811 MGS galaxies within the paper's cuts, model fluxes and their inverse
variances): :func:`photoz_nb.validation.catalogue_errors.error_ratio_table`.  The catalogue is made
once without the floor; the fraction f per band that minimises

    sum over bins ((r_k(f) - 1) / se_k)^2,

r_k(f) the ratio of bin k with each galaxy's model magnitude moved by the error the floor adds to it
(its own deviate times 1.0857 f, :func:`photometry.photometry_noise`) and se_k its standard error, is
printed (``MODEL_FIT_FLOOR`` of photometry.py), then the table with it.  The Petrosian errors
have no truth to scatter about: the fraction of the Petrosian flux that brings the median quoted
error per bin closest to the real catalogue's is fitted (``PETROSIAN_ERROR_FLOOR``, quoted errors
only).  Use another seed than the unit test's (tests/test_simulate.py), so the test checks the fit
on galaxies it was not made on.

Usage (from the project root; ~1 min for 20,000 galaxies: fewer leave the brightest bins' ratios
~0.1 apart from seed to seed):
    PHOTOZ_SHARED=../shared python scripts/fit_catalogue_errors.py [--n 20000] [--seed 101]
"""
from __future__ import annotations

import argparse

import numpy as np
from scipy import optimize

from photoz_nb import config, mgs
from photoz_nb.mgs import POGSON
from photoz_nb.simulate import galaxies, photometry
from photoz_nb.validation.catalogue_errors import error_ratio_table, format_error_table, petrosian_error_table


def fit_floor(cat, seed: int, real: mgs.MgsGalaxies) -> dict:
    """Band -> fractional floor f minimising the chi^2 above, for a catalogue ``cat`` made without a floor.

    Each ratio is measured with the floor's error added galaxy by galaxy, not solved from the scatter
    without it: sigma_MAD does not add in quadrature over a bin of galaxies with unequal errors (the
    quadrature solution left the brightest g, r, i bins 9-17 % too wide).
    """
    noise = photometry.photometry_noise(seed, len(cat))
    out = {}
    for j, band in enumerate(config.BANDS):
        def chi2(f):
            moved = cat.copy(copy_data=False)
            # add_model_fit_floor adds f x flux x deviate to the flux: -1.0857 f x deviate in magnitude
            moved[f"mag_{band}"] = np.asarray(cat[f"mag_{band}"], float) - POGSON * f * noise[:, j]
            rows = error_ratio_table(moved, real)
            rows = rows[rows["band"] == band]
            return float((((rows["ratio"] - 1) / rows["ratio_se"]) ** 2).sum())

        out[band] = float(optimize.minimize_scalar(chi2, bounds=(0.0, 0.05), method="bounded").x)
    return out


def fit_petrosian_floor(cat) -> dict:
    """Band -> fraction f of the Petrosian flux that, added in quadrature to the quoted Petrosian errors
    of ``cat`` (made without it), brings their median per bin closest to the real one (least squares
    of the log ratios): PETROSIAN_ERROR_FLOOR."""
    real = petrosian_error_table(cat)
    out = {}
    for band in config.BANDS:
        rows = real[real["band"] == band]
        mag, err = np.asarray(cat[f"petromag_{band}"], float), np.asarray(cat[f"petromagerr_{band}"], float)
        bins = [(mag >= r["mag_lo"]) & (mag < r["mag_hi"]) for r in rows]

        def cost(f):
            quoted = np.hypot(err, POGSON * f)  # bright galaxies: the asinh error is Pogson's
            return float(sum(np.log(np.median(quoted[b]) / r["real_error"]) ** 2 for b, r in zip(bins, rows)))

        out[band] = float(optimize.minimize_scalar(cost, bounds=(0.0, 0.05), method="bounded").x)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=101)
    args = parser.parse_args()
    chosen = dict(photometry.MODEL_FIT_FLOOR), dict(photometry.PETROSIAN_ERROR_FLOOR)
    photometry.MODEL_FIT_FLOOR.update({b: 0.0 for b in config.BANDS})
    photometry.PETROSIAN_ERROR_FLOOR.update({b: 0.0 for b in config.BANDS})
    real = mgs.read_mgs()
    cat, _ = galaxies.make_catalog(args.n, args.seed, progress=True)
    print("Petrosian errors quoted without a floor:")
    print(format_error_table(petrosian_error_table(cat)))
    petro_floor = fit_petrosian_floor(cat)
    print("fitted PETROSIAN_ERROR_FLOOR = {" + ", ".join(f'"{b}": {f:.4f}' for b, f in petro_floor.items()) + "}")
    photometry.PETROSIAN_ERROR_FLOOR.update({b: round(f, 4) for b, f in petro_floor.items()})
    table = error_ratio_table(cat, real)
    print(f"without a floor ({args.n} simulated galaxies, seed {args.seed}; real galaxies per band: "
          f"{int(table['n_real'][table['band'] == 'r'].sum())} in the bins):")
    print(format_error_table(table))
    floor = fit_floor(cat, args.seed, real)
    print("fitted MODEL_FIT_FLOOR = {" + ", ".join(f'"{b}": {f:.4f}' for b, f in floor.items()) + "}")
    print(f"(in the catalogue now: MODEL_FIT_FLOOR {chosen[0]}, PETROSIAN_ERROR_FLOOR {chosen[1]})")
    photometry.MODEL_FIT_FLOOR.update({b: round(f, 4) for b, f in floor.items()})
    cat, _ = galaxies.make_catalog(args.n, args.seed, progress=True)
    table = error_ratio_table(cat)
    print("with the fitted floor:")
    print(format_error_table(table))
    print(f"{int(table['passed'].sum())} of {len(table)} bins within 10 % (two standard errors)")
    print("Petrosian errors quoted with the fitted floor:")
    print(format_error_table(petrosian_error_table(cat)))


if __name__ == "__main__":
    main()
