"""The run-derived tables of the README's "What you get", printed as Markdown from a finished run's saved
models and predictions (nothing is trained); ``--write-expected`` also rewrites photoz_nb/expected_small.json,
the numbers notebook 05 holds later `small` runs to.  Run after `make reproduce`:

    python scripts/readme_numbers.py [--profile small] [--write-expected]

Sections: summary table, bias slopes, the E(B-V) test per seed, the ensemble, calibration, and the paired
sigma_MAD differences behind notebook 02's README_DIRECTION.  By-colour scatter: scripts/sigma_by_colour.py.
"""
import argparse

import numpy as np
from astropy.table import Table

from photoz_nb import calibrate, config, metrics, pipeline, tutorial


def section(title: str, body: str) -> None:
    print(f"\n### {title}\n\n{body}")


def ebv_rows(profile, ds) -> tuple[str, dict]:
    """The per-seed E(B-V) table and the first seed's slopes (the expected values' ``ebv_slopes``)."""
    difference, error, per_seed = pipeline.ebv_slope_difference(ds, pipeline.ebv_pairs(profile, ds))
    rows = [[f"seed {profile.seed + int(r['seed'])}", f"{r['slope_with']:+.3f} ± {r['slope_with_err']:.3f}",
             f"{r['slope_without']:+.3f} ± {r['slope_without_err']:.3f}",
             f"{r['difference']:+.3f} ± {r['difference_err']:.3f}"] for r in per_seed]
    rows.append([f"mean over {len(per_seed)} seeds", "", "", f"{difference:+.3f} ± {error:.3f} "
                 f"({tutorial.significance(difference, error):.1f} sigma)"])
    first = per_seed[0]
    slopes = {"with": (first["slope_with"], first["slope_with_err"]),
              "without": (first["slope_without"], first["slope_without_err"])}
    names = ["pair", "slope with E(B−V) [per mag]", "slope without", "difference (without − with)"]
    return pipeline.markdown(Table(rows=rows, names=names)), slopes


def ensemble_rows(profile, ds, ensemble: np.ndarray) -> str:
    test, z = ds.split("test"), ds.column("z_spec", "test")
    each = {f"member {k} (seed {profile.seed + k})": p[test] for k, p in enumerate(pipeline.member_pdfs(profile, ds))}
    each["CNN ensemble mean"] = ensemble[test]
    scores = {k: metrics.pdf_metrics(p, config.redshift_edges(), z) for k, p in each.items()}
    rows = [[k, f"{s['sigma_mad']:.5f}", f"{100 * s['outlier_frac']:.2f}", f"{s['crps']:.5f}"] for k, s in scores.items()]
    return pipeline.markdown(Table(rows=rows, names=["model", "σ_MAD", "outliers %", "CRPS"]))


CALIBRATION_LABELS = {"uncalibrated": "uncalibrated", "temperature": "temperature scaling",
                      "pit_remap": "PIT remap", "conditional_pit_remap": "PIT remap by r magnitude"}


def calibration_rows(profile, ds, cnn: np.ndarray) -> str:
    z = ds.column("z_spec", "test")
    rows = []
    for how, cross_fit in (("fitted on val", False), ("cross-fitted", True)):
        pdfs = pipeline.calibrated_test_pdfs(ds, cnn, cross_fit=cross_fit, seed=profile.seed)
        if cross_fit:  # the README gives the temperature fit once (one number: cross-fitting changes little)
            pdfs.pop("temperature")
        report = calibrate.calibration_report(pdfs, config.redshift_edges(), z, seed=profile.seed)
        for r in report:
            if cross_fit and r["method"] == "uncalibrated":
                continue
            label = CALIBRATION_LABELS[r["method"]] + ("" if r["method"] == "uncalibrated" else f", {how}")
            change = ["", ""] if r["method"] == "uncalibrated" else [
                f"{r['crps_change']:+.5f} ± {r['crps_change_err']:.5f}",
                f"{r['sigma_mad_change']:+.5f} ± {r['sigma_mad_change_err']:.5f}"]
            rows.append([label, f"{r['ks']:.3f}", f"{100 * r['coverage68']:.1f} ± {100 * r['coverage68_err']:.1f}",
                         f"{100 * r['coverage95']:.1f} ± {100 * r['coverage95_err']:.1f}", *change])
    names = ["method", "PIT KS", "68 % coverage [%]", "95 % coverage [%]", "CRPS change", "σ_MAD change"]
    return pipeline.markdown(Table(rows=rows, names=names))


def paired_sigma_differences(profile, ds, pdfs: dict) -> str:
    """sigma_MAD of the CNN minus each baseline's, with the paired bootstrap error (notebook 02's test)."""
    test, z = ds.split("test"), ds.column("z_spec", "test")
    point = pipeline.point_estimates({k: v[test] for k, v in pdfs.items()})
    lines = []
    for method in ("RF", "kNN"):
        diff, err = tutorial.paired_difference(metrics.sigma_mad_dz, point["CNN"], point[method], z, seed=profile.seed)
        ratio = metrics.sigma_mad_dz(point["CNN"], z) / metrics.sigma_mad_dz(point[method], z)
        lines.append(f"- CNN − {method}: {diff:+.5f} ± {err:.5f} ({tutorial.significance(diff, err):+.1f} sigma); "
                     f"ratio CNN/{method} {ratio:.2f}")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="small")
    parser.add_argument("--write-expected", action="store_true", help="rewrite photoz_nb/expected_small.json")
    args = parser.parse_args(argv)
    profile = config.get_profile(args.profile)
    ds = pipeline.dataset(profile, "simulation")
    pdfs = pipeline.all_pdfs(profile, ds)
    table = pipeline.summary(profile, ds, pdfs, pipeline.training_size_runs(profile, ds))
    section(f"Summary table (simulator {ds.manifest['version']})", metrics.to_markdown(table))
    study = pipeline.studies(ds, pdfs)
    section("Bias slopes", pipeline.markdown(pipeline.slope_table(study)))
    ebv_table, ebv_slopes = ebv_rows(profile, ds)
    section("E(B-V) input, per seed", ebv_table)
    section("Ensemble", ensemble_rows(profile, ds, pdfs["CNN"]))
    section("Calibration", calibration_rows(profile, ds, pdfs["CNN"]))
    section("sigma_MAD, CNN against the baselines (paired bootstrap)", paired_sigma_differences(profile, ds, pdfs))
    if args.write_expected:
        path = tutorial.write_expected_summary(table, ds.manifest["version"], ebv_slopes=ebv_slopes,
                                               note=f"{profile.name} run on simulator {ds.manifest['version']}; "
                                                    "README 'What you get' (scripts/readme_numbers.py)")
        print(f"\nexpected values written to {path}")


if __name__ == "__main__":
    main()
