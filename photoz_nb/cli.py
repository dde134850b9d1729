"""Command line: ``photoz-nb <stage> [--profile P]``, one subcommand per stage of the chain.

Failures the user can fix (a path that cannot be read or written, a data set that breaks the
contract, bad JSON, an unreachable dask scheduler, a bad value) end in one line naming the path
or field, and exit status 1; ``--debug`` (or ``PHOTOZ_DEBUG=1``) shows the traceback instead.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

import numpy as np

from . import config

# Lazy imports: each subcommand imports the modules it needs inside its own function.  Importing
# them all here (the pipeline with scikit-learn, the plots with matplotlib, papermill, ...) would take
# `photoz-nb --help` and every other subcommand from a fraction of a second to several seconds.

NOTEBOOKS = ("01_data_preparation", "02_train_cnn", "03_pdf_calibration", "04_bias_studies", "05_paper_figures")


#: Exceptions of user-caused failures (ContractError and json's JSONDecodeError are ValueErrors;
#: PermissionError, FileExistsError, disk full, connection errors and timeouts are OSErrors).
USER_ERRORS = (OSError, ValueError, ImportError)


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    if not hasattr(args, "run"):
        _parser().print_help()
        return 2
    try:
        return args.run(args) or 0
    except USER_ERRORS as err:
        if _debug(args):
            raise
        print(f"photoz-nb {args.command}: error: {one_line(err)} (--debug shows the traceback)", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        if _debug(args):
            raise
        print(f"photoz-nb {args.command}: interrupted; the same command resumes where it stopped", file=sys.stderr)
        return 130


def _debug(args) -> bool:
    return bool(getattr(args, "debug", False) or os.environ.get("PHOTOZ_DEBUG"))


def one_line(err: BaseException) -> str:
    """The message of an exception on one line: ``OSError`` without its "[Errno n]" prefix, with its path."""
    if isinstance(err, OSError) and err.strerror:
        text = err.strerror + "".join(f": {f}" for f in (err.filename, err.filename2) if f is not None)
    else:
        text = str(err) or type(err).__name__
    return " ".join(text.split())


def _profile_name(value: str) -> str:
    """argparse type of --profile: a known profile name (an empty one is an error, not the default)."""
    if value not in config.PROFILES:
        raise argparse.ArgumentTypeError(f"unknown profile {value!r}; expected one of {sorted(config.PROFILES)}")
    return value


def _parser() -> argparse.ArgumentParser:
    debug = argparse.ArgumentParser(add_help=False)
    debug.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="show the full traceback of an error")
    p = argparse.ArgumentParser(prog="photoz-nb", description=__doc__, parents=[debug],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command")

    def command(name, run, help):
        c = sub.add_parser(name, help=help, description=help, parents=[debug])
        c.add_argument("--profile", default=None, type=_profile_name,
                       help="smoke | small | paper (default: $PHOTOZ_PROFILE or small)")
        c.set_defaults(run=run)
        return c

    c = command("simulate", _simulate, "build the embedded default data set (simulated SDSS cutouts of real galaxies)")
    c.add_argument("--n", type=int, default=None, help="number of galaxies (default: the profile's)")
    c.add_argument("--seed", type=int, default=None)
    c.add_argument("--out", type=Path, default=None, help="output directory (default data/<profile>/dataset)")
    c.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    c.add_argument("--scheduler", default=None,
                   help="dask scheduler address to render on (or 'dask-local'); default: local processes")
    c.add_argument("--validate", action="store_true",
                   help="then compare the data set with real SDSS frames: print the realism table, write "
                        "figures/<profile>/realism_*")
    c.add_argument("--frames-dir", type=Path, default=None,
                   help="real SDSS frames for --validate (default: the committed sample data/sdss_sample)")
    c = command("validate", _validate, "check a data set directory against the data contract")
    c.add_argument("path", type=Path, nargs="?", default=None, help="data set directory (default: the profile's)")
    c = command("train", _train, "fit every estimator of the profile (CNN ensemble, kNN, RF, constant n(z), "
                "the E(B-V) twin and the training-size CNNs) and write their PDFs; reuses finished ones")
    c = command("predict", _predict, "PDFs of every galaxy from the CNN and the photometric baselines; with "
                "--images, PDFs of your own cutouts from a trained model, written as a qp file")
    _userdata_predict_args(c)
    c = command("evaluate", _evaluate, "write the summary table (paper layout) from saved predictions (never trains)")
    c.add_argument("--studies", action="store_true",
                   help="also the bias studies: fitted slopes of the bias vs each property, and the E(B-V) test")
    command("figures", _figures, "regenerate every figure from saved models and predictions (never trains)")
    c = command("report", lambda a: __import__("photoz_nb.report", fromlist=["run"]).run(a),  # lazy, as the others
                "the README's and docs/results.md's generated numbers, from saved products (never trains) or the record")
    c.add_argument("--from-record", action="store_true", help="from photoz_nb/expected_small.json, not saved products")
    c.add_argument("--write-record", action="store_true", help="rewrite photoz_nb/expected_small.json (profile small)")
    c.add_argument("--update", action="store_true", help="rewrite the marked blocks of README.md and docs/results.md")
    c.add_argument("--check", action="store_true", help="exit 1 if a marked block differs from the record")
    c = command("ceiling", _ceiling, "how much redshift information the simulation holds: random-forest sigma_MAD on "
                "catalogue quantities and on noise-free truths, or (--hypotheses) bounds on what extra information "
                "could add")
    c.add_argument("dataset", type=Path, nargs="?", default=None,
                   help="simulated data set directory for the ceiling table (default: the profile's)")
    c.add_argument("--hypotheses", type=int, metavar="N", default=None,
                   help="instead: bound each hypothesis on N drawn galaxies (no rendering; the issue's: 60000)")
    c.add_argument("--sizes", default="1000,10000,50000", help="training sizes, comma-separated (nested)")
    c.add_argument("--n-test", type=int, default=10_000, help="test galaxies (default 10000)")
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--out", type=Path, default=None, help="output folder (default data/ceiling)")
    c = command("reproduce", _reproduce, "run notebooks 01..05 in order with papermill, writing figures and tables")
    c.add_argument("--data-source", choices=["simulation", "sdss", "cube"], default="simulation",
                   help="the embedded simulation (default), cutouts of SDSS frames, or the authors' public cube")
    c.add_argument("--real-data", type=json.loads, default={}, metavar="JSON",
                   help='options of the real source, e.g. \'{"catalog": "mgs.fits"}\' or \'{"cube": "sdss.npz"}\'')
    c = sub.add_parser("headline", help="the paper's headline at scale: paper set, Net_P, kNN and RF (GPU)",
                       description="Build the paper set, train full-width Net_P for --epochs, predict the test split "
                                   "with TTA, fit kNN and RF, write the summary table and figures; prints each "
                                   "stage's wall time.")
    c.add_argument("--epochs", type=int, required=True, help="training epochs (the paper's schedule: 60)")
    c.add_argument("--members", type=int, default=1, help="ensemble members (the paper's: 5)")
    c.set_defaults(run=lambda a: _headline(a.epochs, a.members))
    _sdss_parser(sub)
    _baselines_parser(command)
    c = command("learning-curve", lambda a: __import__("photoz_nb.learning_curve", fromlist=["cli_run"]).cli_run(a),
                "CNN, kNN and RF at nested training sizes on one data set, scored on the same test galaxies with "
                "paired bootstrap errors (all, red, blue); resumable; writes data/learning_curve/<name>/")
    c.add_argument("--curve", choices=["smoke", "small", "full"], default=None,
                   help="preset: smoke (a minute), small (minutes), full (the 1k-100k curve); default: the profile's "
                        "(smoke->smoke, small->small, paper->full)")
    c.add_argument("--name", default=None, help="folder under data/learning_curve/ (needed with any option below)")
    c.add_argument("--sizes", default=None, help="training sizes, comma-separated (nested subsets of one pool)")
    for flag, kind, text in (("--n-test", int, "test galaxies"), ("--n-val", int, "validation galaxies"),
                             ("--n-galaxies", int, "data set size (default n_test + n_val + largest size)"),
                             ("--members", int, "CNNs per size (seeds seed+k, PDFs averaged)"),
                             ("--width", float, "Net_P width"), ("--steps-per-galaxy", float,
                              "CNN budget: steps = clip(a * n, min, max)"), ("--min-steps", int, ""),
                             ("--max-steps", int, ""), ("--patience-steps", int, "early stopping waits at least "
                              "this many steps"), ("--sigma-rel-error", float, "refuse a test split giving "
                              "sigma_MAD a larger relative error (~1.166/sqrt(n_test))"),
                             ("--n-boot", int, "paired bootstrap resamples"),
                             ("--seed", int, "data set, splits, CNN members, forest, bootstrap")):
        c.add_argument(flag, type=kind, default=None, help=text)
    c.add_argument("--dataset", type=Path, default=None, help="use this data set (contract) instead of building one")
    c.add_argument("--plan", action="store_true", help="print the plan, check sizes and disk space; fit nothing")
    c.add_argument("--no-figure", action="store_true", help="skip the figures")
    c = command("bench", _bench, "print throughput tables (img/s, peak memory; `libraries`: our renderer and "
                "CRPS against GalSim and properscoring, which need the test extra)")
    c.add_argument("what", choices=["backends", "train", "predict", "fit", "memory", "simulate", "cutouts", "baselines",
                                    "libraries", "sdss-faults"])
    c.add_argument("--n", type=int, default=None,
                   help="galaxies for `bench simulate` and `bench fit`, cutouts for `bench cutouts` (default 2000); "
                        "galaxies rendered by `bench libraries` (default 200)")
    return p


def _baselines_parser(command) -> None:
    c = command("baselines", _baselines, "fit the kNN and random-forest baselines on your own catalogue: "
                "qp files of the test galaxies and a metrics table (README 'Your own data')")
    c.add_argument("--catalog", type=Path, required=True, help="FITS, CSV, ECSV or Parquet")
    c.add_argument("--target", default="z_spec", help="spectroscopic redshift column (default z_spec)")
    c.add_argument("--out", type=Path, required=True, help="output folder: <method>.hdf5, metrics.md, metrics.ecsv")
    c.add_argument("--mags", default=None, help="five magnitude columns, ugriz order (default mag_u,...,mag_z)")
    c.add_argument("--colours", default=None, help="instead: four colour columns u-g,g-r,r-i,i-z (with --r-column)")
    c.add_argument("--r-column", default=None, help="r magnitude column, with --colours")
    c.add_argument("--ebv-column", default=None,
                   help="deredden with config.EXTINCTION_COEFF x this E(B-V) column (omit for dereddened magnitudes)")
    c.add_argument("--id-column", default=None, help="id column (default objid or id, else the row number)")
    c.add_argument("--split-column", default="split",
                   help="train/val/test labels; without it, seeded random 72/8/20 splits")
    c.add_argument("--methods", default="knn,rf")
    c.add_argument("--seed", type=int, default=0, help="seeds the splits, the forest and the bootstrap")
    c.add_argument("--n-boot", type=int, default=200)
    c.add_argument("--point", choices=["mean", "median", "mode"], default="mean", help="point estimate of the metrics")


def _baselines(args):
    from . import userdata  # lazy: astropy and scipy (~1 s), see the note at the top
    cat = userdata.photometry_table(args.catalog, args.target, mags=args.mags, colours=args.colours,
                                    r_column=args.r_column, ebv_column=args.ebv_column, id_column=args.id_column,
                                    split_column=args.split_column, seed=args.seed)
    table, paths = userdata.baselines_on_catalog(cat, args.out, [m.strip() for m in args.methods.split(",")],
                                                 seed=args.seed, n_boot=args.n_boot, kind=args.point)
    print(paths[-2].read_text())
    print("written: " + ", ".join(map(str, paths)))


def _sdss_parser(sub) -> None:
    where = ("Where the real path connects (a mirror is a server with the same URL layout): the SAS, for "
             "frames, at --sas-url, else $PHOTOZ_SAS_URL, else https://data.sdss.org/sas; SkyServer's SQL "
             "search, for the sample query, at --skyserver-url, else $PHOTOZ_SKYSERVER_URL, else "
             "https://skyserver.sdss.org.  --mirror is a local folder of frame files instead of the SAS.  Failed "
             "downloads are retried (bounded), then named in one line; the same command resumes "
             "(docs/real_survey.md).")
    sdss = sub.add_parser("sdss", help="the real SDSS data path: query, frames, cutouts, import-cube",
                          description="Rebuild the paper's data set from SDSS itself, or import the public cube. "
                                      + where)
    steps = _DebugSubparsers(sdss.add_subparsers(dest="step", required=True))
    sas = argparse.ArgumentParser(add_help=False)
    sas.add_argument("--sas-url", default=None, metavar="URL",
                     help="SAS base URL (default $PHOTOZ_SAS_URL, else https://data.sdss.org/sas)")
    c = steps.add_parser("query", help="run the paper's sample query on SkyServer (paged, cached, resumable)",
                         description=where)
    c.add_argument("--out", type=Path, required=True, help="catalogue FITS to write")
    c.add_argument("--max-pages", type=int, default=None)
    c.add_argument("--skyserver-url", default=None, metavar="URL",
                   help="SkyServer base URL (default $PHOTOZ_SKYSERVER_URL, else https://skyserver.sdss.org)")
    c.set_defaults(run=lambda a: _sdss_call("query_catalog", a.out, max_pages=a.max_pages,
                                            skyserver_url=a.skyserver_url))
    c = steps.add_parser("frames", help="download (or copy from --mirror) every frame a catalogue needs",
                         description=where, parents=[sas])
    c.add_argument("catalog", type=Path)
    c.add_argument("--frames-dir", type=Path, required=True)
    c.add_argument("--mirror", type=Path, default=None, help="local folder holding frame-*.fits.bz2 files")
    c.add_argument("--max-downloads", type=int, default=4, metavar="N", help="frames downloaded at once (default 4)")
    c.set_defaults(run=lambda a: _sdss_call("fetch_frames", a.catalog, a.frames_dir, mirror=a.mirror,
                                            sas_url=a.sas_url, max_workers=a.max_downloads))
    c = steps.add_parser("cutouts", help="resample the five bands onto one grid and cut 64x64 stamps",
                         description=where, parents=[sas])
    c.add_argument("catalog", type=Path)
    c.add_argument("--frames-dir", type=Path, required=True)
    c.add_argument("--out", type=Path, required=True, help="data set directory to write")
    c.add_argument("--mirror", type=Path, default=None)
    c.add_argument("--workers", type=int, default=None, help="processes, one SDSS field per task (default: all cores)")
    c.add_argument("--scheduler", default=None,
                   help="dask scheduler address to cut on (or 'dask-local'); default: local processes")
    c.set_defaults(run=lambda a: _sdss_call("build_cutout_dataset", a.catalog, a.frames_dir, a.out, mirror=a.mirror,
                                            workers=a.workers, scheduler=a.scheduler, sas_url=a.sas_url))
    c = steps.add_parser("figure", help="cutouts of the brightest galaxies of the real fields in data/sdss_sample")
    c.add_argument("--profile", default=None, type=_profile_name,
                   help="writes figures/<profile>/sdss_bright_galaxies.{pdf,png}")
    c.add_argument("--frames-dir", type=Path, default=None, help="default: data/sdss_sample")
    c.set_defaults(run=_sdss_figure)
    c = steps.add_parser("import-cube", help="convert the authors' public .npz cube to a data set (streamed)")
    c.add_argument("npz", type=Path)
    c.add_argument("--out", type=Path, required=True, help="data set directory to write")
    c.set_defaults(run=lambda a: _sdss_call("import_cube", a.npz, a.out))


class _DebugSubparsers:
    """Sub-commands that all take --debug (argparse's parents= for an existing subparsers object)."""

    def __init__(self, subparsers):
        self.subparsers = subparsers

    def add_parser(self, name, **kwargs):
        c = self.subparsers.add_parser(name, **kwargs)
        c.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="show the full traceback of an error")
        return c


def _sdss_figure(args):
    from .plots import bright_galaxies_figure  # lazy: matplotlib (~1-2 s), see the note at the top
    paths = bright_galaxies_figure(profile=args.profile, frames_dir=args.frames_dir)
    print("written: " + ", ".join(map(str, paths)))


def _sdss_call(name: str, *args, **kwargs):
    from . import sdss  # lazy: see the note at the top
    result = getattr(sdss, name)(*args, **kwargs)
    print(f"written: {result if not isinstance(result, list) else f'{len(result)} frames'}")


def _profile(args) -> config.Profile:
    return config.get_profile(args.profile)


def _ceiling(args):
    from . import ceiling  # lazy: scikit-learn, see the note at the top
    from .catalog import open_dataset
    sizes = [int(n) for n in args.sizes.split(",")]
    if args.hypotheses is not None:
        table, name = ceiling.hypothesis_bounds(ceiling.truth_table(args.hypotheses, args.seed), n_train=max(sizes),
                                                n_test=args.n_test, seed=args.seed), "hypotheses"
    else:
        ds = open_dataset(args.dataset or _profile(args).dataset_dir, verify_checksums=False)
        table, name = ceiling.ceiling_table(ds.catalog, sizes, n_test=args.n_test, seed=args.seed), "ceiling"
    paths = ceiling.write(table, args.out or config.data_root() / "ceiling", name)
    print(ceiling.to_markdown(table))
    print(f"written: {', '.join(map(str, paths))}")


def _simulate(args):
    from .simulate import build_dataset, ensure_dataset  # lazy: see the note at the top
    profile = _profile(args)
    if args.validate and args.out is None and args.seed is None and args.n is None:
        path = ensure_dataset(profile, rebuild_invalid=True)  # reuse the profile's data set when it is current
    else:
        path = build_dataset(profile, out_dir=args.out, seed=args.seed, n=args.n, workers=args.workers,
                             scheduler=args.scheduler)
    print(f"data set written to {path}")
    if args.validate:
        from .validation import realism_report, tally  # lazy: matplotlib, see the note at the top
        table = realism_report(path, args.frames_dir, figures_dir=profile.figures_dir)
        table.pprint_all()
        print(f"\n{table.meta['details']}\n\n{tally(table)}; figures: {', '.join(table.meta['figures'][::2])}; "
              f"tables: {table.meta['tables']}")


def _validate(args):
    from .catalog import validate_dataset  # lazy: astropy.table (~1 s), see the note at the top
    path = args.path or _profile(args).dataset_dir
    manifest = validate_dataset(path)
    print(f"{path}: valid ({manifest['n_galaxies']} galaxies, generator {manifest.get('generator')})")


def _train(args):
    from . import pipeline  # lazy: scikit-learn, matplotlib (seconds), see the note at the top
    profile = _profile(args)
    members = pipeline.train(profile, pipeline.dataset(profile))
    print("models in " + ", ".join(str(m.path) for m in members) + f"; predictions in {profile.predictions_dir}")


def _userdata_predict_args(c) -> None:
    g = c.add_argument_group("your own cutouts (photoz_nb.userdata; README 'Your own data')")
    g.add_argument("--images", type=Path, default=None,
                   help="cutouts: .npy or FITS, N x 64 x 64 x 5 ugriz nanomaggies (or N x 5 x 64 x 64)")
    g.add_argument("--catalog", type=Path, default=None,
                   help="one row per cutout (FITS/CSV/Parquet): 'ebv', or 'ra'/'dec' for the SFD map; optional id")
    g.add_argument("--model", type=Path, default=None,
                   help="trained model directory (e.g. data/smoke/models/cnn; its _member<k> siblings join the ensemble)")
    g.add_argument("--out", type=Path, default=None, help="qp file to write (.hdf5, .fits or .pq)")
    g.add_argument("--tta", action="store_true", help="average the 8 rotations/flips of each cutout")
    g.add_argument("--bands", default=None, help="band order in the file, e.g. zirgu (default: header labels, else ugriz)")
    g.add_argument("--layout", choices=["auto", "nhwc", "nchw"], default="auto", help="axis order of the cube")
    g.add_argument("--id-column", default=None, help="id column of the catalogue (default objid or id, else row number)")
    g.add_argument("--ebv-column", default="ebv")
    g.add_argument("--sfd-dir", type=Path, default=None,
                   help="folder with SFD_dust_4096_{ngp,sgp}.fits (default: dustmaps' data_dir/sfd)")
    g.add_argument("--no-plausibility", action="store_true",
                   help="skip the unit (sky level, noise) and band-order checks on the pixels")


def _predict_user_images(args):
    from . import userdata  # lazy: astropy and scipy (~1 s), see the note at the top
    if args.model is None or args.out is None:
        raise ValueError("--images needs --model DIR and --out FILE")
    images = userdata.read_images(args.images, layout=args.layout, bands=args.bands,
                                  plausibility=not args.no_plausibility)
    n = len(images.pixels)
    cat = ({"id": np.arange(n), "ebv": None} if args.catalog is None else
           userdata.image_catalog(args.catalog, n, args.id_column, args.ebv_column, sfd_dir=args.sfd_dir,
                                  notes=images.notes))
    for note in images.notes:
        print(f"note: {note}")
    pdfs, n_members = userdata.predict_pdfs(images, cat["ebv"], args.model, tta=args.tta)
    ancil = {"id": cat["id"]} if cat["ebv"] is None else {"id": cat["id"], "ebv": cat["ebv"]}
    userdata.write_qp(args.out, pdfs, ancil)
    print(f"{n} PDFs from {n_members} model(s){' with TTA' if args.tta else ''} written to {args.out} (qp hist)")


def _predict(args):
    if args.images is not None:
        return _predict_user_images(args)
    from . import pipeline  # lazy: scikit-learn, matplotlib (seconds), see the note at the top
    profile = _profile(args)
    pipeline.all_pdfs(profile, pipeline.dataset(profile), fit=True)
    print(f"predictions in {profile.predictions_dir}")


def _evaluate(args):
    from . import metrics, pipeline  # lazy: scikit-learn, matplotlib (seconds), see the note at the top
    profile = _profile(args)
    ds = pipeline.dataset(profile)
    pdfs = pipeline.all_pdfs(profile, ds)  # saved predictions only: NotTrained names `photoz-nb train`
    table = pipeline.summary(profile, ds, pdfs, pipeline.training_size_runs(profile, ds))
    stem = profile.figures_dir / "summary_table"
    stem.parent.mkdir(parents=True, exist_ok=True)
    metrics.write_summary(table, stem)
    print(Path(f"{stem}.md").read_text())
    print(f"summary table in {stem}.md / .tex / .ecsv")
    if args.studies:
        study = pipeline.studies(ds, pdfs)
        study_ebv = pipeline.studies(ds, pipeline.ebv_experiment(profile, ds), ["ebv"])
        text = "\n\n".join(pipeline.markdown(pipeline.slope_table(s)) for s in (study, study_ebv))
        path = profile.figures_dir / "study_slopes.md"
        path.write_text(text + "\n")
        print(f"{text}\n\nslopes of the bias vs each property in {path}")


def _figures(args):
    from . import pipeline  # lazy: scikit-learn, matplotlib (seconds), see the note at the top
    profile = _profile(args)
    ds = pipeline.dataset(profile)
    members = pipeline.cnn_members(profile, ds)  # saved models and predictions only, like evaluate
    pdfs = pipeline.all_pdfs(profile, ds)
    paths = pipeline.figures(profile, ds, pdfs, members, pipeline.ebv_experiment(profile, ds),
                             pipeline.training_size_runs(profile, ds))
    print(f"{len(paths)} files written to {profile.figures_dir}")


def _reproduce(args):
    import papermill  # lazy: papermill and nbclient take seconds to import, see the note at the top
    logging.basicConfig(level=logging.INFO, format="    %(message)s")  # papermill streams cell output here
    os.environ.setdefault("TQDM_MININTERVAL", "10")  # each progress refresh becomes a log line: keep them few
    profile = _profile(args)
    out = config.project_root() / "build" / "notebooks" / profile.name
    out.mkdir(parents=True, exist_ok=True)
    start = time.time()
    for i, name in enumerate(NOTEBOOKS, 1):
        print(f"[{i}/{len(NOTEBOOKS)}] {name} (profile {profile.name}) ... {time.time() - start:.0f} s elapsed", flush=True)
        papermill.execute_notebook(config.project_root() / "notebooks" / f"{name}.ipynb", out / f"{name}.ipynb",
                                   parameters={"profile": profile.name, "data_source": args.data_source,
                                               "real_data": args.real_data}, cwd=config.project_root() / "notebooks",
                                   progress_bar=True, log_output=True)
    print(f"\nDone in {(time.time() - start) / 60:.1f} min.\n  figures:       {profile.figures_dir}/"
          f"\n  summary table: {profile.figures_dir}/summary_table.md\n  notebooks:     {out}/")


def _headline(epochs: int, members: int):
    from . import headline  # lazy: the whole chain (seconds), see the note at the top
    headline.run(epochs, members)


def _bench(args):
    from . import bench  # lazy: see the note at the top
    n = 2000 if args.n is None else args.n
    if args.what == "simulate":
        r = bench.bench_simulate(n=n)
        print(bench.markdown_table([{
            "galaxies": r["n"], "workers": r["workers"], "catalogue s": round(r["catalog_s"], 1),
            "build s (end to end)": round(r["build_s"], 1), "galaxies/s": round(r["galaxies_per_s"]),
            "peak RSS MiB, all processes": round(r["peak_rss_mib"]), "of it private": round(r["peak_anon_mib"]),
            "of it file-backed": round(r["peak_file_mib"])}]))
    elif args.what == "cutouts":
        bench.bench_cutouts(n=n)
    elif args.what == "baselines":
        bench.bench_baselines()
    elif args.what == "sdss-faults":  # --n: frame requests (default 2000)
        bench.bench_sdss_faults(n=n)
    elif args.what == "libraries":
        bench.bench_libraries(**({} if args.n is None else {"n": args.n}))
    elif args.what == "fit":
        bench.bench_fit(args.profile, n)
    else:
        {"backends": bench.bench_backends, "train": bench.bench_train, "predict": bench.bench_predict,
         "memory": bench.bench_memory}[args.what]()


if __name__ == "__main__":
    sys.exit(main())
