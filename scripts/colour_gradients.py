"""Colour gradients as catalogues show them: Petrosian minus SDSS-model colours of simulated stamps against
the 9,811 real MGS galaxies of kcorrect's catalogue, per colour type and redshift bin (developer check, not
run by tests; ~0.3 s a galaxy on one core: 1,500 galaxies take ~8 min).

    python scripts/colour_gradients.py [--n 1500] [--seed 1] [--out colour_gradients.ecsv]

See photoz_nb.validation.colour_gradients for what is compared and why.
"""
from __future__ import annotations

import argparse

from photoz_nb.stats import markdown_table
from photoz_nb.validation import colour_gradients as cg


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1500, help="simulated galaxies measured")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", default=None, help="also write the table here (ECSV)")
    args = parser.parse_args()
    table = cg.gradient_table(cg.real_gradients(), cg.simulated_gradients(args.n, args.seed))
    print(markdown_table([{
        "type": r["type"], "z": f"{r['z_lo']:.2f}-{r['z_hi']:.2f}", "colour": r["colour"],
        "n real / sim": f"{r['n_real']} / {r['n_sim']}",
        "median real": f"{r['median_real']:+.3f} ± {r['median_real_err']:.3f}",
        "median sim": f"{r['median_sim']:+.3f} ± {r['median_sim_err']:.3f}",
        "sigma_MAD real": f"{r['sigma_real']:.3f} ± {r['sigma_real_err']:.3f}",
        "sigma_MAD sim": f"{r['sigma_sim']:.3f} ± {r['sigma_sim_err']:.3f}",
        "sim / real": f"{r['sigma_ratio']:.2f}"} for r in table]))
    if args.out:
        table.write(args.out, format="ascii.ecsv", overwrite=True)


if __name__ == "__main__":
    main()
