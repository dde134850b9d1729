"""The README's and the tutorial site's numbers, generated from one record of a run (``photoz-nb report``).

A *record* is a dict of every number the README and ``docs/results.md`` quote about a run: the summary table
(paper columns, bootstrap errors and RAIL's columns), the bias-study slopes, the E(B-V) test per seed, the ensemble
members, the calibration table, the paired CNN-baseline differences and the split sizes.  It comes either

- from a finished run's saved models and predictions (:func:`record_from_products`: nothing is trained; run
  ``make reproduce`` or ``photoz-nb train`` first), or
- from the committed record of the ``small`` run the README quotes, ``photoz_nb/expected_small.json``
  (:func:`load_record`; the same file notebook 05 and :mod:`photoz_nb.tutorial` read).

The quoted files mark each generated part with ``<!-- report:NAME -->`` ... ``<!-- /report:NAME -->``;
:func:`render_blocks` writes those parts from a record, :func:`update_text` puts them in place and
:func:`stale_blocks` names the ones that differ (``tests/test_report.py`` fails on any).  After a new ``small`` run::

    photoz-nb report --profile small --write-record --update    # record the run, rewrite the README's numbers

Paired regression: :func:`paired_regression` compares a run with the recorded one on the *same* test galaxies,
the error of each difference from one bootstrap of those galaxies applied to both runs (their errors on each
galaxy are correlated, which adding two bootstrap errors in quadrature ignores).  It needs the recorded run's
per-galaxy point estimates (``expected_small_points.npz``, written beside the record by :func:`write_record`).
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
from astropy.table import Table

from . import calibrate, config, metrics, pipeline, tutorial
from .stats import markdown_table, plus_minus

#: The committed record of the ``small`` run the README quotes.
RECORD_PATH = tutorial.EXPECTED_PATH
#: Its test-split point estimates per method (written by :func:`write_record` when the record comes from products).
POINTS_PATH = RECORD_PATH.with_name("expected_small_points.npz")
#: The files, relative to the project root, whose marked blocks are generated from the record.
QUOTING_FILES = ("README.md", "docs/results.md")
#: The paper's number the headline sets ours beside: sigma_MAD of its CNN over B16's (0.00912 / 0.01350), the CNN
#: trained on 393,219 galaxies (Pasquet et al. 2019, Table 1; B16: Beck et al. 2016).
PAPER_CNN_OVER_B16 = 0.68
PAPER_TRAINING_SIZE = 393_219
BLOCK = re.compile(r"(<!-- report:(?P<name>[a-z_]+) -->\n)(?P<body>.*?)(<!-- /report:(?P=name) -->)", re.S)

CALIBRATION_LABELS = {"uncalibrated": "uncalibrated", "temperature": "temperature scaling",
                      "pit_remap": "PIT remap", "conditional_pit_remap": "PIT remap by r magnitude"}
RAIL_COLUMNS = tuple(metrics.RAIL_SUMMARY_COLUMNS)


# --------------------------------------------------------------------------- the record
def load_record(path=RECORD_PATH) -> dict:
    """The committed record (``expected_small.json``)."""
    return json.loads(Path(path).read_text())


def write_record(record: dict, path=RECORD_PATH, points: dict | None = None) -> Path:
    """Write ``record`` (and, if given, the test split's point estimates {method: array} beside it as .npz)."""
    path = Path(path)
    path.write_text(json.dumps(record, indent=1) + "\n")
    if points is not None:
        np.savez_compressed(path.with_name(POINTS_PATH.name), **{k: np.asarray(v, np.float32) for k, v in points.items()})
    return path


def record_from_products(profile="small", source: str = "simulation") -> tuple[dict, dict]:
    """(record, test-split point estimates) of the profile's finished run, from its saved models and predictions.

    Never trains: a missing prediction raises the pipeline's ``NotTrained``, which names ``photoz-nb train``.
    """
    profile = config.get_profile(profile)
    ds = pipeline.dataset(profile, source)
    pdfs = pipeline.all_pdfs(profile, ds)
    table = pipeline.summary(profile, ds, pdfs, pipeline.training_size_runs(profile, ds))
    test, z = ds.split("test"), ds.column("z_spec", "test")
    edges = config.redshift_edges()
    rows = {}
    for row in table:
        values = {c: float(row[c]) for c in (*tutorial.EXPECTED_STATS, *RAIL_COLUMNS) if c in row.colnames}
        errors = {f"{s}_err": float(row[f"{s}_err"]) for s in tutorial.EXPECTED_STATS if f"{s}_err" in row.colnames}
        rows[str(row["trial"])] = {**values, **errors, "training_size": int(row["training_size"]),
                                   "n_test": int(row["n_test"])}
    difference, error, per_seed = pipeline.ebv_slope_difference(ds, pipeline.ebv_pairs(profile, ds))
    ebv_pairs = [{"seed": profile.seed + int(r["seed"]),
                  **{k: float(r[k]) for k in ("slope_with", "slope_with_err", "slope_without", "slope_without_err",
                                              "difference", "difference_err")}} for r in per_seed]
    study = pipeline.studies(ds, pdfs)
    first = pipeline.ebv_experiment(profile, ds)
    val_pdfs = {**pipeline.compared(pdfs), "CNN": first["CNN with E(B-V)"]}  # one seed's network, as the test table
    val_slopes = pipeline.studies(ds, val_pdfs, ["ebv"], split="val")["ebv"]["slopes"]
    point = pipeline.point_estimates({k: v[test] for k, v in pdfs.items()})
    members = {f"member {k} (seed {profile.seed + k})": p[test] for k, p in enumerate(pipeline.member_pdfs(profile, ds))}
    members["CNN ensemble mean"] = pdfs["CNN"][test]
    ensemble = []
    for name, p in members.items():
        s = metrics.pdf_metrics(p, edges, z)
        ensemble.append({"model": name, "sigma_mad": s["sigma_mad"], "outliers_pct": 100 * s["outlier_frac"],
                         "crps": s["crps"]})
    paired = {}
    for method in ("RF", "kNN"):
        d, e = tutorial.paired_difference(metrics.sigma_mad_dz, point["CNN"], point[method], z, seed=profile.seed)
        paired[method] = {"difference": d, "error": e}
    record = {
        "profile": profile.name, "simulator": str(ds.manifest.get("version")),
        "note": f"{profile.name} run on simulator {ds.manifest.get('version')}; written by `photoz-nb report "
                f"--profile {profile.name} --write-record` from the run's saved products",
        "rows": rows,
        "ebv_slopes": {"with": [ebv_pairs[0]["slope_with"], ebv_pairs[0]["slope_with_err"]],
                       "without": [ebv_pairs[0]["slope_without"], ebv_pairs[0]["slope_without_err"]]},
        "dataset": {"n_galaxies": int(ds.manifest["n_galaxies"]),
                    **{f"n_{s}": int(len(ds.split(s))) for s in ("train", "val", "test")}},
        "ebv_pairs": ebv_pairs, "ebv_difference": [difference, error],
        "ebv_slopes_val": {("CNN (seed %d)" % profile.seed if k == "CNN" else k): [float(v) for v in s]
                           for k, s in val_slopes.items()},
        "study_slopes": {pipeline.PROPERTIES[c][0]: {m: [float(v) for v in s] for m, s in v["slopes"].items()}
                         for c, v in study.items()},
        "ensemble": ensemble,
        "calibration": _calibration_rows(profile, ds, pdfs["CNN"]),
        "paired": paired,
    }
    return record, point


def _calibration_rows(profile, ds, cnn: np.ndarray) -> list[dict]:
    z = ds.column("z_spec", "test")
    rows = []
    for how, cross_fit in (("fitted on val", False), ("cross-fitted", True)):
        pdfs = pipeline.calibrated_test_pdfs(ds, cnn, cross_fit=cross_fit, seed=profile.seed)
        if cross_fit:  # the temperature fit once: one number, cross-fitting changes little
            pdfs.pop("temperature")
        for r in calibrate.calibration_report(pdfs, config.redshift_edges(), z, seed=profile.seed):
            if cross_fit and r["method"] == "uncalibrated":
                continue
            label = CALIBRATION_LABELS[r["method"]] + ("" if r["method"] == "uncalibrated" else f", {how}")
            row = {"method": label, **{k: float(r[k]) for k in ("ks", "coverage68", "coverage68_err", "coverage95",
                                                                 "coverage95_err")}}
            if r["method"] != "uncalibrated":
                row.update({k: float(r[k]) for k in ("crps_change", "crps_change_err", "sigma_mad_change",
                                                      "sigma_mad_change_err")})
            rows.append(row)
    return rows


# --------------------------------------------------------------------------- rendering
def summary_table(record: dict) -> Table:
    """The record's summary rows as :func:`metrics.summary_table` builds them (so the Markdown is the run's)."""
    rows = []
    for trial, r in record["rows"].items():
        rows.append({"trial": trial, "training_size": r.get("training_size", record["dataset"]["n_train"]),
                     "n_test": r.get("n_test", record["dataset"]["n_test"]),
                     **{k: v for k, v in r.items() if k not in ("training_size", "n_test")}})
    return metrics.summary_table(rows)


def _md(rows: list[list], names: list[str]) -> str:
    """A Markdown table, the first column left-aligned and the numbers right-aligned."""
    return markdown_table(rows, headers=names, align=["---"] + ["---:"] * (len(names) - 1)) + "\n"


def headline(record: dict) -> str:
    """The README's headline paragraph."""
    r, d = record["rows"], record["dataset"]
    cnn, knn, rf, const = (r[f"{m}: full test sample"] for m in ("CNN", "kNN", "RF", "constant n(z)"))
    diff, err = record["ebv_difference"]
    ratio = cnn["sigma_mad"] / rf["sigma_mad"]
    return (f"On the last `{record['profile']}` run (simulator {record['simulator']}; {d['n_galaxies']:,} simulated "
            f"galaxies: {d['n_train']:,} to train, {d['n_val']:,} to validate, {d['n_test']:,} to test), the "
            f"test-split σ_MAD is **CNN {plus_minus(cnn['sigma_mad'], cnn['sigma_mad_err'], '.5f')}**, random forest "
            f"{plus_minus(rf['sigma_mad'], rf['sigma_mad_err'], '.5f')}, kNN {plus_minus(knn['sigma_mad'], knn['sigma_mad_err'], '.5f')}"
            f" and the constant n(z) floor {plus_minus(const['sigma_mad'], const['sigma_mad_err'], '.5f')}. At this training "
            f"size the CNN does not beat photometry: CNN/RF = {ratio:.2f}, against the paper's "
            f"{PAPER_CNN_OVER_B16:.2f} (CNN over B16) with {PAPER_TRAINING_SIZE:,} training galaxies. The paper's "
            f"reddening test {'reproduces' if tutorial.significance(diff, err) > 2 else 'is not resolved at this size'}"
            f": trained without E(B−V) as an input, the CNN's bias grows with E(B−V) by {plus_minus(diff, err, '+.3f')} per "
            f"magnitude more than with it ({tutorial.significance(diff, err):.1f}σ over {len(record['ebv_pairs'])} "
            f"seed{'s' if len(record['ebv_pairs']) > 1 else ''}).\n")


def results_table(record: dict) -> str:
    """The README's compact table: each method on the full test sample, and the CNN's training-size rows."""
    rows = []
    for trial, r in record["rows"].items():
        method, _, subset = trial.partition(": ")
        if subset != "full test sample" and "training pool" not in subset:
            continue
        label = method if subset == "full test sample" else f"{method}, {subset}"
        rows.append([label, f"{r.get('training_size', record['dataset']['n_train']):,d}",
                     plus_minus(r["sigma_mad"], r["sigma_mad_err"], ".5f"), plus_minus(r["bias"], r["bias_err"], "+.5f"),
                     plus_minus(r["outliers_pct"], r["outliers_pct_err"], ".2f"), plus_minus(r["crps"], r["crps_err"], ".5f")])
    return _md(rows, ["method (test split)", "training galaxies", "σ_MAD", "bias", "outliers %", "CRPS"])


def slopes_table(record: dict) -> str:
    """The bias-study slopes, one row per property (``pipeline.slope_table``'s layout)."""
    props = record["study_slopes"]
    methods = list(next(iter(props.values())))
    rows = [[p] + [f"{s[m][0]:+.2e} ± {s[m][1]:.1e}" for m in methods] for p, s in props.items()]
    return _md(rows, ["property"] + [f"d(bias)/dx {m}" for m in methods])


def ebv_table(record: dict) -> str:
    """The E(B-V) test per seed and over the seeds."""
    rows = [[f"seed {p['seed']}", plus_minus(p["slope_with"], p["slope_with_err"], "+.3f"),
             plus_minus(p["slope_without"], p["slope_without_err"], "+.3f"), plus_minus(p["difference"], p["difference_err"], "+.3f")]
            for p in record["ebv_pairs"]]
    diff, err = record["ebv_difference"]
    rows.append([f"mean over {len(record['ebv_pairs'])} seeds", "", "",
                 f"{plus_minus(diff, err, '+.3f')} ({tutorial.significance(diff, err):.1f} sigma)"])
    return _md(rows, ["pair", "slope with E(B−V) [per mag]", "slope without", "difference (without − with)"])


def ebv_val_sentence(record: dict) -> str:
    """The validation split's E(B-V) slopes, with the call that produces them."""
    parts = [f"{plus_minus(s, e, '+.3f')} ({m})" for m, (s, e) in record["ebv_slopes_val"].items()]
    return (f"On the {record['dataset']['n_val']:,} validation galaxies the slopes of the bias against E(B−V) are "
            + ", ".join(parts) + " per magnitude (`pipeline.studies(ds, pdfs, [\"ebv\"], split=\"val\")`, the CNN "
            "being the first seed's network with the input; `photoz-nb report` computes them).\n")


def ensemble_table(record: dict) -> str:
    rows = [[e["model"], f"{e['sigma_mad']:.5f}", f"{e['outliers_pct']:.2f}", f"{e['crps']:.5f}"]
            for e in record["ensemble"]]
    return _md(rows, ["model", "σ_MAD", "outliers %", "CRPS"])


def calibration_table(record: dict) -> str:
    rows = []
    for c in record["calibration"]:
        change = ([plus_minus(c["crps_change"], c["crps_change_err"], "+.5f"),
                   plus_minus(c["sigma_mad_change"], c["sigma_mad_change_err"], "+.5f")] if "crps_change" in c else ["", ""])
        rows.append([c["method"], f"{c['ks']:.3f}", plus_minus(100 * c["coverage68"], 100 * c["coverage68_err"], ".1f"),
                     plus_minus(100 * c["coverage95"], 100 * c["coverage95_err"], ".1f"), *change])
    return _md(rows, ["method", "PIT KS", "68 % coverage [%]", "95 % coverage [%]", "CRPS change", "σ_MAD change"])


def paired_lines(record: dict) -> str:
    """σ_MAD of the CNN minus each baseline's on the same galaxies, paired bootstrap error (notebook 02's test)."""
    r = record["rows"]
    lines = []
    for method, p in record["paired"].items():
        ratio = r["CNN: full test sample"]["sigma_mad"] / r[f"{method}: full test sample"]["sigma_mad"]
        lines.append(f"- CNN − {method}: {plus_minus(p['difference'], p['error'], '+.4f')} "
                     f"({tutorial.significance(p['difference'], p['error']):+.1f}σ, paired bootstrap); "
                     f"σ_MAD ratio CNN/{method} {ratio:.2f}")
    return "\n".join(lines) + "\n"


def provenance(record: dict) -> str:
    d = record["dataset"]
    return (f"From the last `{record['profile']}` run, simulator {record['simulator']}: {d['n_galaxies']:,} galaxies, "
            f"{d['n_train']:,} / {d['n_val']:,} / {d['n_test']:,} train / validation / test; errors are bootstrap "
            "standard errors; record `photoz_nb/expected_small.json`, written into this page by `photoz-nb report "
            "--update`.\n")


def render_blocks(record: dict) -> dict[str, str]:
    """{block name: Markdown} of every generated block of :data:`QUOTING_FILES`."""
    return {"headline": headline(record), "results": results_table(record), "provenance": provenance(record),
            "summary": metrics.to_markdown(summary_table(record)), "slopes": slopes_table(record),
            "ebv": ebv_table(record), "ebv_val": ebv_val_sentence(record), "ensemble": ensemble_table(record),
            "calibration": calibration_table(record), "paired": paired_lines(record)}


# --------------------------------------------------------------------------- the quoting files
def _normal(text: str) -> str:
    return text.strip("\n") + "\n"


def blocks_in(text: str) -> dict[str, str]:
    """{name: body} of the marked blocks of ``text``."""
    return {m["name"]: m["body"] for m in BLOCK.finditer(text)}


def update_text(text: str, blocks: dict[str, str]) -> str:
    """``text`` with each marked block's body replaced by ``blocks[name]``; raises on a block it cannot write."""
    unknown = sorted(set(blocks_in(text)) - set(blocks))
    if unknown:
        raise ValueError(f"marked block(s) {unknown} have no generator; known: {sorted(blocks)}")
    return BLOCK.sub(lambda m: m.group(1) + _normal(blocks[m["name"]]) + m.group(4), text)


def stale_blocks(text: str, blocks: dict[str, str]) -> list[str]:
    """Names of the marked blocks of ``text`` whose body differs from ``blocks`` (unknown names included)."""
    return [name for name, body in blocks_in(text).items() if name not in blocks or body != _normal(blocks[name])]


def quoting_files(root=None) -> list[Path]:
    root = config.project_root() if root is None else Path(root)
    return [root / f for f in QUOTING_FILES if (root / f).is_file()]


def update_files(record: dict, root=None, write: bool = True) -> dict[Path, list[str]]:
    """{file: stale block names} over :data:`QUOTING_FILES`; with ``write``, rewrites those blocks."""
    blocks = render_blocks(record)
    stale = {}
    for path in quoting_files(root):
        text = path.read_text()
        names = stale_blocks(text, blocks)
        stale[path] = names
        if write and names:
            path.write_text(update_text(text, blocks))
    return stale


# --------------------------------------------------------------------------- a run against the record, paired
def paired_regression(new: dict, recorded: dict, z_spec, n_boot: int = 200, seed: int = 0) -> Table:
    """Each method's bias, σ_MAD and outlier % in a new run minus the recorded run's, on the same galaxies.

    ``new``, ``recorded``: {method: test-split point estimates}, row i the same galaxy in both.  The error of each
    difference is a paired bootstrap (the galaxies resampled once for both runs), so what the two runs share (the
    test galaxies' own scatter) cancels.  Returns a Table (method, stat, new, recorded, difference, error, pull).
    """
    z = np.asarray(z_spec, float)
    stats = {"bias": lambda zp, zs: metrics.point_metrics(zp, zs)["bias"], "sigma_mad": metrics.sigma_mad_dz,
             "outliers_pct": lambda zp, zs: 100 * metrics.point_metrics(zp, zs)["outlier_frac"]}
    rows = []
    for method in recorded:
        if method not in new:
            raise ValueError(f"method {method!r} of the record is missing from the new run (has {sorted(new)})")
        a, b = np.asarray(new[method], float), np.asarray(recorded[method], float)
        if a.shape != b.shape or a.shape != z.shape:
            raise ValueError(f"{method}: {a.shape[0]} new and {b.shape[0]} recorded estimates for {z.shape[0]} "
                             "galaxies: not the same test split")
        for name, stat in stats.items():
            diff, err = tutorial.paired_difference(stat, a, b, z, n_boot=n_boot, seed=seed)
            rows.append([method, name, stat(a, z), stat(b, z), diff, err, tutorial.significance(diff, err)])
    return Table(rows=rows, names=["method", "stat", "new", "recorded", "difference", "error", "pull"])


def load_points(path=POINTS_PATH) -> dict[str, np.ndarray] | None:
    """The recorded run's test-split point estimates, or None when none were recorded."""
    path = Path(path)
    if not path.is_file():
        return None
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


# --------------------------------------------------------------------------- `photoz-nb report`
def run(args) -> int:
    """``photoz-nb report``: print the generated blocks; ``--write-record``, ``--update``, ``--check`` (exit 1 if stale).

    ``args``: ``profile``, ``from_record``, ``write_record``, ``update``, ``check`` (see ``photoz-nb report --help``).
    """
    if args.from_record:
        record, points = load_record(), None
    else:
        record, points = record_from_products(config.get_profile(args.profile))
    blocks = render_blocks(record)
    for name, body in blocks.items():
        print(f"\n<!-- report:{name} -->\n{_normal(body)}<!-- /report:{name} -->")
    if args.write_record:
        if args.from_record or record["profile"] != "small":
            raise ValueError(f"--write-record records a `small` run from its saved products (this is "
                             f"{'the committed record' if args.from_record else 'profile ' + record['profile']}): "
                             "the README quotes the small profile")
        print(f"\nrecord written to {write_record(record, points=points)} (and {POINTS_PATH.name} beside it)")
    if args.update or args.check:
        stale = update_files(record, write=args.update)
        for path, names in stale.items():
            verb = "rewrote" if args.update else "differ from the record"
            print(f"{path}: " + (f"{verb}: {', '.join(names)}" if names else "every generated block is current"))
        if args.check and not args.update and any(stale.values()):
            print("run `photoz-nb report --from-record --update` (or, after a new small run, "
                  "`photoz-nb report --profile small --write-record --update`)")
            return 1
    return 0
