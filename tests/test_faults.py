"""Fault injection: every way issue 16 found to lose data, crash or mislead, reproduced and refused.

Kills are real (``os._exit`` in a child process, at a named step of :func:`safeio._fault_hook`),
never timing; a read-only folder is met by a child without capabilities (the tests run as root).
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from photoz_nb import baselines, catalog, cli, config, fixtures, metrics, parallel, safeio
from photoz_nb.simulate import build
from conftest import make_catalog, write_tiny_dataset

ROOT = Path(__file__).resolve().parent.parent


def child(code: str, *args, preexec=(), **kwargs) -> subprocess.Popen:
    """A Python child running ``code`` (with sys.argv[1:] = args) on this checkout."""
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'tests'}"}
    return subprocess.Popen([*preexec, sys.executable, "-c", textwrap.dedent(code), *map(str, args)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


def run_child(code: str, *args, preexec=()) -> subprocess.CompletedProcess:
    p = child(code, *args, preexec=preexec)
    out, err = p.communicate()
    return subprocess.CompletedProcess(p.args, p.returncode, out, err)


def run_cli(capsys, *argv) -> tuple[int, str]:
    rc = cli.main([str(a) for a in argv])
    return rc, capsys.readouterr().err


def seed_of(path) -> int:
    return json.loads((Path(path) / catalog.MANIFEST).read_text())["seed"]


@pytest.fixture
def no_rendering(monkeypatch):
    """Fail the test if a build gets as far as rendering an image."""
    monkeypatch.setattr(build, "render_chunk", lambda *a, **k: pytest.fail("rendered before refusing"))


# --------------------------------------------------------------------------- outputs a build must not delete
def test_simulate_refuses_a_folder_that_is_not_a_data_set(tmp_path, capsys, no_rendering):
    thesis = tmp_path / "thesis"
    thesis.mkdir()
    (thesis / "chapter1.tex").write_text("years of work")
    rc, err = run_cli(capsys, "simulate", "--profile", "smoke", "--n", 8, "--workers", 1, "--out", thesis)
    assert rc == 1 and str(thesis) in err and "does not hold a photoz-nb data set" in err
    assert (thesis / "chapter1.tex").read_text() == "years of work"
    assert "Traceback" not in err


def test_simulate_into_a_profile_folder_keeps_its_models(tmp_path, capsys, no_rendering):
    profile_dir = tmp_path / "data" / "smoke"  # the issue's `--out data/smoke`: models and predictions inside
    (profile_dir / "models" / "cnn").mkdir(parents=True)
    (profile_dir / "models" / "cnn" / "model.keras").write_bytes(b"trained for hours")
    rc, err = run_cli(capsys, "simulate", "--profile", "smoke", "--n", 8, "--workers", 1, "--out", profile_dir)
    assert rc == 1 and "refusing to replace" in err
    assert (profile_dir / "models" / "cnn" / "model.keras").read_bytes() == b"trained for hours"


def test_out_pointing_at_a_file_fails_before_rendering(tmp_path, capsys, no_rendering):
    target = tmp_path / "notes.txt"
    target.write_text("keep me")
    rc, err = run_cli(capsys, "simulate", "--profile", "smoke", "--n", 8, "--workers", 1, "--out", target)
    assert rc == 1 and f"{target} exists and is not a folder" in err
    assert target.read_text() == "keep me"


def test_a_data_set_is_replaced_only_by_a_complete_one(tmp_path):
    out = write_tiny_dataset(tmp_path / "ds", n=16, seed=1)
    fixtures.write_synthetic_dataset(out, n=16, seed=2, chunk=8)
    assert seed_of(out) == 2 and catalog.validate_dataset(out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]  # no partial, aside or lock file left


def test_an_empty_folder_may_be_the_output(tmp_path):
    (tmp_path / "empty").mkdir()
    fixtures.write_synthetic_dataset(tmp_path / "empty", n=8, seed=1, chunk=8)
    assert seed_of(tmp_path / "empty") == 1


def test_a_foreign_partial_folder_is_not_deleted(tmp_path):
    (tmp_path / "ds.partial").mkdir()
    (tmp_path / "ds.partial" / "mine.txt").write_text("not a build's")
    with pytest.raises(FileExistsError, match="not left by a photoz-nb build"):
        fixtures.write_synthetic_dataset(tmp_path / "ds", n=8, seed=1, chunk=8)
    assert (tmp_path / "ds.partial" / "mine.txt").exists()


# --------------------------------------------------------------------------- a kill at every publish step
KILL_AT = """
    import os, sys
    from photoz_nb import fixtures, safeio
    out, step, exchange = sys.argv[1], sys.argv[2], sys.argv[3] == "exchange"
    safeio._fault_hook = lambda name: os._exit(9) if name == step else None
    if not exchange:
        safeio._exchange = lambda a, b: False
    fixtures.write_synthetic_dataset(out, n=16, seed=2, chunk=8)
"""


@pytest.mark.parametrize("step, exchange", [
    ("manifest-written", True), ("exchanged", True), ("old-removed", True),
    ("manifest-written", False), ("set-aside", False), ("renamed", False), ("old-removed", False),
])
def test_a_kill_at_every_publish_step_loses_nothing(tmp_path, step, exchange):
    out = write_tiny_dataset(tmp_path / "ds", n=16, seed=1)
    killed = run_child(KILL_AT, out, step, "exchange" if exchange else "rename")
    if killed.returncode == 0 and step == "exchanged":
        pytest.skip("this file system has no renameat2(RENAME_EXCHANGE); the fallback path is tested")
    assert killed.returncode == 9, killed.stderr
    if step == "set-aside":  # between the two renames: the old set waits aside, the new one in .partial
        assert not out.exists() and safeio.aside_path(out).is_dir()
        with pytest.raises(catalog.ContractError, match="replacement was interrupted"):
            catalog.validate_dataset(out)
        assert catalog.validate_dataset(safeio.aside_path(out))["seed"] == 1
    else:  # the old set or the new one is in place, valid
        assert seed_of(out) == (1 if step == "manifest-written" else 2)
        catalog.validate_dataset(out)
    if step == "manifest-written":  # the progress file survives: the rerun resumes, nothing re-rendered
        progress = json.loads((tmp_path / "ds.partial" / catalog.PROGRESS).read_text())
        assert len(progress["done"]) == 2
        writes = []
        original = catalog.DatasetWriter.write
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(catalog.DatasetWriter, "write", lambda self, *a: writes.append(a) or original(self, *a))
            fixtures.write_synthetic_dataset(out, n=16, seed=2, chunk=8)
        assert writes == []
    else:
        fixtures.write_synthetic_dataset(out, n=16, seed=2, chunk=8)
    assert seed_of(out) == 2 and catalog.validate_dataset(out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]


# --------------------------------------------------------------------------- locks
HOLD_LOCK = """
    import sys, time
    from photoz_nb import safeio
    with safeio.FolderLock(sys.argv[1]):
        print("locked", flush=True)
        sys.stdin.read()  # until the test closes stdin, or kills us
"""


def test_two_writers_of_one_folder(tmp_path, capsys):
    out = tmp_path / "ds"
    holder = child(HOLD_LOCK, out, stdin=subprocess.PIPE)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(safeio.FolderInUse, match=rf"{out} is in use by PID {holder.pid}"):
            fixtures.write_synthetic_dataset(out, n=8, seed=1, chunk=8)
        rc, err = run_cli(capsys, "simulate", "--profile", "smoke", "--n", 8, "--workers", 1, "--out", out)
        assert rc == 1 and f"in use by PID {holder.pid}" in err
        assert not out.with_name("ds.partial").exists()  # the second writer touched nothing
    finally:
        holder.kill()  # SIGKILL: the lock file stays, with a dead PID in it
        holder.communicate()
    assert safeio.lock_path(out).exists()
    fixtures.write_synthetic_dataset(out, n=8, seed=1, chunk=8)  # a stale lock is taken over
    assert f"taking over the lock of PID {holder.pid}" in capsys.readouterr().err
    assert not safeio.lock_path(out).exists() and seed_of(out) == 1


def test_training_folders_are_locked_too(tmp_path):
    import dataclasses

    from photoz_nb.estimators.cnn import train as T
    ds = catalog.open_dataset(write_tiny_dataset(tmp_path / "data", n=32))
    holder = child(HOLD_LOCK, tmp_path / "run", stdin=subprocess.PIPE)
    try:
        assert holder.stdout.readline().strip() == "locked"
        tiny = dataclasses.replace(config.PROFILES["smoke"], epochs=1, model_width=0.03)
        with pytest.raises(safeio.FolderInUse, match=f"PID {holder.pid}"):
            T.train(ds, tiny, tmp_path / "run", progress=False)
    finally:
        holder.kill()
        holder.communicate()


# --------------------------------------------------------------------------- read-only folder
def test_an_unwritable_folder_is_named_before_any_work(tmp_path):
    # root without CAP_DAC_OVERRIDE obeys the folder's mode bits like any user
    drop = ["setpriv", "--inh-caps=-all", "--bounding-set=-all"] if os.geteuid() == 0 else []
    if drop and not shutil.which("setpriv"):
        pytest.skip("running as root, and no setpriv (util-linux) to drop root's capabilities")
    readonly = tmp_path / "readonly"
    readonly.mkdir()
    readonly.chmod(0o555)
    out = readonly / "ds"
    code = """
        import sys
        from photoz_nb import cli
        from photoz_nb.simulate import build
        build.render_chunk = lambda *a: sys.exit("rendered")
        sys.exit(cli.main(["simulate", "--profile", "smoke", "--n", "8", "--workers", "1", "--out", sys.argv[1]]))
    """
    result = run_child(code, out, preexec=drop)
    if drop and result.returncode != 1 and "setpriv" in result.stderr:
        pytest.skip(f"setpriv cannot drop capabilities here: {result.stderr.strip()}")
    assert result.returncode == 1, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert f"cannot write in {readonly}" in last and str(out) in last and "Traceback" not in result.stderr
    assert ".params-" not in last and ".partial" not in last  # not a hidden temporary folder
    assert list(readonly.iterdir()) == []


# --------------------------------------------------------------------------- malformed inputs
def rewrite_manifest(path, change):
    manifest = json.loads((path / catalog.MANIFEST).read_text())
    manifest = change(manifest)
    (path / catalog.MANIFEST).write_text(json.dumps(manifest))


@pytest.mark.parametrize("change, message", [
    (lambda m: [m], "must hold a JSON object, got list"),
    (lambda m: {**m, "files": None}, "field 'files' must be an object"),
    (lambda m: {k: v for k, v in m.items() if k != "files"}, "field 'files' must be an object"),
    (lambda m: {**m, "files": {**m["files"], "images.npy": "abc"}}, "'files.images.npy' must be an object"),
    (lambda m: {**m, "files": {**m["files"], "images.npy": {"sha256": "x"}}}, r"'files.images.npy.bytes' must be"),
    (lambda m: {**m, "files": {**m["files"], "catalog.fits": {"bytes": "12", "sha256": "x"}}},
     r"'files.catalog.fits.bytes' must be an integer"),
    (lambda m: {**m, "files": {**m["files"], "catalog.fits": {"bytes": 1}}}, r"'files.catalog.fits.sha256'"),
    (lambda m: {**m, "files": {"images.npy": m["files"]["images.npy"]}}, "no entry for catalog.fits"),
])
def test_every_malformed_manifest_is_named(tiny_dataset, capsys, change, message):
    rewrite_manifest(tiny_dataset, change)
    with pytest.raises(catalog.ContractError, match=message):
        catalog.validate_dataset(tiny_dataset)
    rc, err = run_cli(capsys, "validate", tiny_dataset)
    assert rc == 1 and str(tiny_dataset / catalog.MANIFEST) in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("text", ["{", "", "\xff\xfe", "null", "42"])
def test_garbled_manifest_bytes(tiny_dataset, text):
    (tiny_dataset / catalog.MANIFEST).write_bytes(text.encode("latin-1"))
    with pytest.raises(catalog.ContractError, match=str(tiny_dataset / catalog.MANIFEST)):
        catalog.validate_dataset(tiny_dataset)
    assert not catalog.is_dataset_folder(tiny_dataset)


def test_unreadable_catalog_is_named(tiny_dataset, capsys):
    fits = tiny_dataset / catalog.CATALOG
    fits.write_bytes(b"SIMPLE  =  garbage" + b"\0" * (fits.stat().st_size - 18))
    rewrite_manifest(tiny_dataset, lambda m: {**m, "files": {**m["files"], catalog.CATALOG: {
        "bytes": fits.stat().st_size, "sha256": catalog.sha256(fits)}}})
    with pytest.raises(catalog.ContractError, match=rf"{fits}: not a readable FITS table"):
        catalog.validate_dataset(tiny_dataset)
    rc, err = run_cli(capsys, "validate", tiny_dataset)
    assert rc == 1 and str(fits) in err


def put_nan_pixel(path, row: int):
    """A NaN pixel in image ``row``, with a manifest that agrees (as a buggy writer would leave it)."""
    images = np.load(path / catalog.IMAGES)
    images[row, 10, 20, 3] = np.nan
    np.save(path / catalog.IMAGES, images)
    rewrite_manifest(path, lambda m: {**m, "files": {**m["files"], catalog.IMAGES: {
        "bytes": (path / catalog.IMAGES).stat().st_size, "sha256": catalog.sha256(path / catalog.IMAGES)}}})


def test_validate_finds_one_nan_pixel_anywhere(tiny_dataset, capsys):
    put_nan_pixel(tiny_dataset, 37)
    with pytest.raises(catalog.ContractError, match=r"non-finite .* row\(s\) \[37\]"):
        catalog.validate_dataset(tiny_dataset)
    rc, err = run_cli(capsys, "validate", tiny_dataset)
    assert rc == 1 and "[37]" in err
    ds = catalog.open_dataset(tiny_dataset, check_pixels=False)  # opened without the check...
    with pytest.raises(catalog.ContractError, match=r"\[37\]"):  # ...the check in chunks finds it
        catalog.check_finite_pixels(ds.images, tiny_dataset / catalog.IMAGES, chunk=5, progress=True)
    assert "finite pixels images.npy" in capsys.readouterr().err  # with a progress bar when asked


def test_nan_pixels_stop_training_before_the_good_model_is_touched(tmp_path, tiny_dataset, monkeypatch):
    from photoz_nb.estimators.cnn import train as T
    monkeypatch.setenv("PHOTOZ_HOME", str(tmp_path))
    profile = config.get_profile("smoke")
    good = profile.models_dir / "cnn"
    good.mkdir(parents=True)
    for name, content in {"model.keras": b"the previous good model", "run.json": b'{"identity": {"seed": 1}}',
                          "history.json": b"{}"}.items():
        (good / name).write_bytes(content)
    put_nan_pixel(tiny_dataset, int(np.load(tiny_dataset / catalog.IMAGES, mmap_mode="r").shape[0] - 1))
    ds = catalog.open_dataset(tiny_dataset, check_pixels=False)  # e.g. the paper profile: no full read on open
    with pytest.raises(ValueError, match=r"images.npy: non-finite .* \[63\]"):
        T.ensure_trained(profile, ds)
    assert (good / "model.keras").read_bytes() == b"the previous good model"
    assert sorted(p.name for p in good.iterdir()) == ["history.json", "model.keras", "run.json"]


def test_pipeline_does_not_silently_rebuild_a_damaged_data_set(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PHOTOZ_HOME", str(tmp_path))
    profile = config.get_profile("smoke")
    write_tiny_dataset(profile.dataset_dir)
    meta = build.build_meta(profile, profile.seed, profile.n_galaxies)
    rewrite_manifest(profile.dataset_dir, lambda m: {**m, **meta})  # current, but damaged below
    with open(profile.dataset_dir / catalog.IMAGES, "r+b") as f:
        f.seek(-4, 2)
        f.write(b"\x00\x00\xc0\x7f")
    monkeypatch.setattr(build, "build_dataset", lambda *a, **k: pytest.fail("rebuilt without asking"))
    from photoz_nb import pipeline
    with pytest.raises(catalog.ContractError, match=r"images.npy: sha256 .* .photoz-nb simulate --profile smoke"):
        pipeline.dataset(profile)
    rc, err = run_cli(capsys, "train", "--profile", "smoke")
    assert rc == 1 and "sha256 does not match" in err and "photoz-nb simulate" in err


def test_a_rebuild_says_why_first(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PHOTOZ_HOME", str(tmp_path))
    profile = config.get_profile("smoke")
    calls = []
    monkeypatch.setattr(build, "build_dataset", lambda p, *a, **k: calls.append(p) or write_tiny_dataset(p.dataset_dir))
    build.ensure_dataset(profile)
    assert "building " + str(profile.dataset_dir) + ": no data set there yet" in capsys.readouterr().err
    build.ensure_dataset(profile)  # the tiny set's manifest is not the simulation's: stale
    assert f"rebuilding {profile.dataset_dir}: made by another build (generator" in capsys.readouterr().err
    assert len(calls) == 2


def test_empty_profile_is_an_error(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["validate", "--profile", ""])
    assert exit_.value.code == 2 and "unknown profile ''" in capsys.readouterr().err


def test_debug_shows_the_traceback(tmp_path, capsys):
    rc, err = run_cli(capsys, "validate", tmp_path / "nothing")
    assert rc == 1 and "no data set directory here" in err and "--debug" in err
    with pytest.raises(catalog.ContractError):
        cli.main(["validate", str(tmp_path / "nothing"), "--debug"])
    with pytest.raises(catalog.ContractError):
        cli.main(["--debug", "validate", str(tmp_path / "nothing")])


def test_disk_full_is_one_line(tmp_path, monkeypatch, capsys, no_rendering):
    import errno

    def no_space(fd, offset, length):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "posix_fallocate", no_space)
    rc, err = run_cli(capsys, "simulate", "--profile", "smoke", "--n", 8, "--workers", 1, "--out", tmp_path / "x")
    assert rc == 1 and "disk full while writing the data set" in err and "Traceback" not in err


def test_an_unreachable_scheduler_is_a_clear_error(capsys, monkeypatch):
    pytest.importorskip("dask.distributed")
    with pytest.raises(ConnectionError, match="cannot reach the dask scheduler at 'tcp://127.0.0.1:9'"):
        with parallel.executor(scheduler="tcp://127.0.0.1:9", connect_timeout_s=1):
            pass

    def unreachable(*a, **k):
        with parallel.executor(scheduler="tcp://127.0.0.1:9", connect_timeout_s=1):
            pass

    monkeypatch.setattr("photoz_nb.simulate.build_dataset", unreachable)  # what the CLI calls
    rc, err = run_cli(capsys, "simulate", "--profile", "smoke", "--n", 8, "--scheduler", "tcp://127.0.0.1:9")
    assert rc == 1 and "cannot reach the dask scheduler" in err


# --------------------------------------------------------------------------- workers die with their parent
POOL_PARENT = """
    import os, sys, time
    from photoz_nb import parallel
    with parallel.executor(workers=2) as pool:
        pids = {pool.submit(os.getpid).result() for _ in range(8)}
        while len(pids) < 2:  # both workers up
            pids |= {f.result() for f in [pool.submit(os.getpid) for _ in range(4)]}
        print(*sorted(pids), flush=True)
        pool.submit(time.sleep, 3600)
        sys.stdin.read()
"""


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting for its reaper counts as dead)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_workers_die_with_a_sigkilled_parent():
    parent = child(POOL_PARENT, stdin=subprocess.PIPE)
    workers = [int(p) for p in parent.stdout.readline().split()]
    assert len(workers) == 2 and all(alive(p) for p in workers)
    os.kill(parent.pid, signal.SIGKILL)
    parent.communicate()
    # the kernel kills the workers as the parent dies; give them a moment to be gone
    for _ in range(500):
        if not any(alive(p) for p in workers):
            break
        time.sleep(0.02)
    assert not any(alive(p) for p in workers), f"orphaned workers {workers}"


# --------------------------------------------------------------------------- bad inputs to metrics and baselines
@pytest.mark.parametrize("cut", [np.nan, np.inf, -0.05, 0, "x"])
def test_outlier_cut_must_be_finite_and_positive(cut):
    with pytest.raises(ValueError, match="outlier_cut must be a finite positive number"):
        metrics.point_metrics([0.1, 0.2], [0.1, 0.2], outlier_cut=cut)


def test_sigma_mad_of_nothing_raises():
    with pytest.raises(ValueError, match="empty"):
        metrics.sigma_mad([])


def test_a_negative_spectroscopic_redshift_is_refused_with_its_index():
    with pytest.raises(ValueError, match=r"z_spec has 1 value\(s\) below -0.01, first at index 1 \(-0.5\)"):
        metrics.point_metrics([0.1, 0.2, 0.3], [0.1, -0.5, 0.3])
    out = metrics.point_metrics([0.0, 0.1], [-0.001, 0.1])  # a nearby galaxy's blueshift is a redshift
    assert out["n"] == 2 and np.isfinite(out["bias"])


def test_sigma_mad_of_nan_is_nan_unless_asked_otherwise():
    from photoz_nb import stats
    x = [0.1, np.nan, 0.3, 0.2]
    assert np.isnan(stats.sigma_mad(x))  # documented: a NaN is never hidden inside a number
    with pytest.raises(ValueError, match=r"sigma_mad input has 1 NaN/inf value\(s\); first at index 1"):
        stats.sigma_mad(x, nan_policy="raise")
    assert stats.sigma_mad(x, nan_policy="omit") == stats.sigma_mad([0.1, 0.3, 0.2])
    with pytest.raises(ValueError, match="nan_policy must be"):
        stats.sigma_mad(x, nan_policy="ignore")


def test_bootstrap_names_the_callers_index_of_a_nan():
    z = np.linspace(0.05, 0.35, 60)
    z_phot = z + 0.01
    z_phot[37] = np.nan
    with pytest.raises(ValueError, match=r"z_phot has 1 NaN/inf value\(s\); first at index 37$"):
        metrics.bootstrap(metrics.point_metrics, z_phot, z, n_boot=20)


@pytest.mark.parametrize("column, value, message", [
    ("z_spec", 0.55, "'z_spec' has 1 redshift.s. outside the PDF grid"),
    ("z_spec", np.nan, "'z_spec' has 1 NaN/inf value"),
    ("z_spec", 0.0, "'z_spec' has 1 redshift.s. outside"),
    ("mag_r", 99.0, "'mag_r' has 1 sentinel value"),
    ("mag_u", -9999.0, "'mag_u' has 1 sentinel value"),
    ("mag_z", np.inf, "'mag_z' has 1 NaN/inf value"),
])
def test_baselines_refuse_bad_training_rows(column, value, message):
    cat = make_catalog(60)
    cat[column][7] = value
    with pytest.raises(ValueError, match=rf"baseline training catalogue: column {message}.*row 7"):
        baselines.PhotometricBaseline("knn").fit(cat)


def test_baselines_refuse_sentinel_magnitudes_at_prediction():
    model = baselines.PhotometricBaseline("knn").fit(make_catalog(60))
    bad = make_catalog(10, seed=1)
    bad["mag_g"][3] = 99.0
    with pytest.raises(ValueError, match="baseline prediction catalogue: column 'mag_g'.*row 3"):
        model.predict_pdfs(bad)


def test_labels_refuse_nan_and_out_of_range_redshifts():
    from photoz_nb.estimators.cnn.train import redshift_bins
    for z in (np.nan, 0.41, -0.1):
        with pytest.raises(ValueError, match="outside"):
            redshift_bins([0.1, z])


# --------------------------------------------------------------------------- torn checkpoints
@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """An uninterrupted tiny training run, and a copy of its folder as a kill after its second epoch leaves it.

    The copy is taken as the third epoch begins: the files a kill (SIGKILL) at that moment leaves
    behind, without a second training run (a run costs mostly the tracing of its train step).  The
    lock file lies beside the folder, so the copy is not locked; an interrupt that unwinds through
    train() is tested in tests/test_train.py.
    """
    import dataclasses

    import keras

    from photoz_nb.estimators.cnn import train as T

    class CopyAt(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 2:
                shutil.copytree(base / "reference", base / "killed")

    base = tmp_path_factory.mktemp("ckpt")
    ds = catalog.open_dataset(write_tiny_dataset(base / "data", n=48))
    tiny = dataclasses.replace(config.PROFILES["smoke"], model_width=0.03, epochs=3, batch_size=16, seed=7)
    reference = T.train(ds, tiny, base / "reference", progress=False, callbacks=[CopyAt()])
    state = json.loads((base / "killed" / T.CHECKPOINT).read_text())
    assert state["epochs_done"] == 2 and not state["finished"] and not (base / "killed" / "model.keras").exists()
    return ds, tiny, reference, base / "killed"


@pytest.mark.parametrize("damage, corrupt", [
    (lambda d: (d / "checkpoint.json").write_text('{"identity": {"arch'), "checkpoint.json"),  # torn
    (lambda d: (d / "ckpt-0002.keras").write_bytes(b""), "ckpt-0002.keras"),  # zero-byte
])
@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
def test_a_torn_checkpoint_is_set_aside_and_training_resumes_from_the_previous(runs, tmp_path, capsys,
                                                                                damage, corrupt):
    import keras

    from photoz_nb.estimators.cnn import train as T
    ds, tiny, reference, killed = runs
    out = tmp_path / "run"
    shutil.copytree(killed, out)
    assert json.loads((out / T.PREVIOUS).read_text())["epochs_done"] == 1  # the previous one is kept
    damage(out)
    resumed = T.train(ds, tiny, out, progress=False)
    err = capsys.readouterr().err
    assert f"{out / corrupt}: " in err and f"set aside as {corrupt}.corrupt" in err
    assert "resuming after epoch 1 (from checkpoint" in err
    assert (out / f"{corrupt}.corrupt").exists()  # kept for a look, not deleted
    assert resumed.history == reference.history  # the same run as the uninterrupted one, bit for bit
    for a, b in zip(resumed.model.weights, reference.model.weights):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))


@pytest.mark.parametrize("content, why", [
    (b"\x00" * 64, "torn or garbled checkpoint"), (b"[]", "holds a list"), (b"", "0 bytes"),
    (b'{"identity": {}}', "missing ['best_epoch'"), (b"\xff\xfe{", "torn or garbled"),
])
def test_every_garbled_checkpoint_state_is_named_and_set_aside(tmp_path, capsys, content, why):
    from photoz_nb.estimators.cnn import train as T
    (tmp_path / T.CHECKPOINT).write_bytes(content)
    assert T._read_state(tmp_path / T.CHECKPOINT) is None
    err = capsys.readouterr().err
    assert f"{tmp_path / T.CHECKPOINT}: " in err and why in err and "set aside as checkpoint.json.corrupt" in err
    assert (tmp_path / "checkpoint.json.corrupt").read_bytes() == content


def test_a_torn_model_file_is_named_and_set_aside(tmp_path, capsys):
    from photoz_nb.estimators.cnn import train as T
    (tmp_path / "ckpt-0002.keras").write_bytes(b"PK\x03\x04 torn zip")
    (tmp_path / "best-0002.weights.h5").write_bytes(b"weights")
    state = {"model_file": "ckpt-0002.keras", "best_file": "best-0002.weights.h5"}
    assert T._load_checkpoint(tmp_path, state, fresh=None) is None
    err = capsys.readouterr().err
    assert f"{tmp_path / 'ckpt-0002.keras'}: unreadable checkpoint" in err
    assert (tmp_path / "ckpt-0002.keras.corrupt").exists()
    (tmp_path / "best-0002.weights.h5").unlink()
    (tmp_path / "ckpt-0002.keras").write_bytes(b"x")
    assert T._load_checkpoint(tmp_path, state, fresh=None) is None
    assert "names best_file 'best-0002.weights.h5', which is missing" in capsys.readouterr().err
