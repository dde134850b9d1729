"""The estimator interface: one bin convention, the registry, complete cache keys, no training outside `train`."""
import dataclasses
import inspect
import types

import numpy as np
import pytest
from astropy.table import Table

from photoz_nb import calibrate, cli, config, pdf, pipeline
from photoz_nb.catalog import ContractError
from photoz_nb.estimators import ConstantNZ, Estimator, NotTrained, PhotometricEstimator, registry
from photoz_nb.estimators.cnn import CNN, CNNEnsemble
from photoz_nb.estimators.cnn.inputs import redshift_bins
from photoz_nb.estimators.photometric import PhotometricBaseline
from test_pipeline import fake_dataset, gaussian_pdfs

EDGES = config.redshift_edges()


# --------------------------------------------------------------------------- one bin convention
def test_bin_index_is_numpys_histogram_convention_on_every_edge():
    """A z on an inner edge opens the bin above it (np.histogram, np.digitize), z_max is in the last bin."""
    z = np.concatenate([EDGES, np.random.default_rng(0).uniform(0, 0.4, 1000)])
    k = pdf.bin_index(z, EDGES)
    np.testing.assert_array_equal(k[:len(EDGES)], np.r_[np.arange(180), 179])
    np.testing.assert_array_equal(np.bincount(k, minlength=180), np.histogram(z, EDGES)[0])
    inner = z < EDGES[-1]
    np.testing.assert_array_equal(k[inner], np.digitize(z[inner], EDGES)[:] - 1)


def test_labels_pdfs_and_calibration_share_the_bin_of_an_edge_redshift():
    """Labels (training), the CDF (PIT/CRPS) and temperature scaling's true bin all put z = e_k in bin k."""
    k = 40
    z = np.array([EDGES[k], EDGES[-1]])
    assert redshift_bins(z).tolist() == [k, 179] == pdf.bin_index(z, EDGES).tolist()
    # all mass in bin k: the CDF at its lower edge is 0, so PIT = 0 there (bin k holds z, its mass is above)
    p = np.zeros((2, 180))
    p[0, k] = p[1, 179] = 1.0
    np.testing.assert_allclose(pdf.pit(p, EDGES, z), [0.0, 1.0])
    # temperature scaling fitted on PDFs that put most mass in the labelled bin must sharpen, not widen
    rng = np.random.default_rng(1)
    zz = EDGES[rng.integers(1, 179, 400)]  # every redshift on an edge
    logits = np.full((400, 180), -4.0)
    logits[np.arange(400), pdf.bin_index(zz, EDGES)] = 0.0
    q = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    assert calibrate.TemperatureScaling().fit(q, zz).temperature_ < 1


# --------------------------------------------------------------------------- the registry and the protocol
def test_registry_holds_every_estimator_in_table_order():
    reg = registry(config.get_profile("smoke"))
    assert list(reg) == ["CNN", "kNN", "RF", "constant n(z)"]
    assert all(isinstance(e, Estimator) and e.label == label for label, e in reg.items())
    assert len(reg["CNN"].members) == config.get_profile("smoke").ensemble_size


def test_constant_nz_is_the_training_histogram_and_joins_the_summary_alone(tmp_path, monkeypatch):
    monkeypatch.setenv("PHOTOZ_HOME", str(tmp_path))
    ds = fake_dataset()
    z = ds.column("z_spec")
    train = ds.split("train")
    p = ConstantNZ().fit(ds, train, ds.split("val")).predict_pdfs(ds, np.arange(len(ds)))
    counts = np.histogram(z[train], EDGES)[0]
    np.testing.assert_array_equal(p, np.tile(counts / counts.sum(), (len(ds), 1)).astype(np.float32))
    profile = config.get_profile("smoke")
    pdfs = {"CNN": gaussian_pdfs(z, 0.01, 1), "kNN": gaussian_pdfs(z, 0.02, 2)}
    before = pipeline.summary(profile, ds, pdfs, n_boot=20)
    after = pipeline.summary(profile, ds, {**pdfs, ConstantNZ.label: p}, n_boot=20)
    # all its PDFs are alike, so no "widest 20% removed" rows (they would be ties broken by row order)
    assert [t for t in after["trial"] if t.startswith("constant n(z)")] == ["constant n(z): full test sample",
                                                                          "constant n(z): testing on Stripe 82"]
    kept = after[:len(before)]
    for column in before.colnames:  # the other rows keep exactly their numbers
        assert list(kept[column]) == list(before[column]), column
    assert set(pipeline.studies(ds, {**pdfs, ConstantNZ.label: p}, properties=["ebv"])["ebv"]["tables"]) == {"CNN", "kNN"}


def test_photometric_estimator_is_the_baseline_on_catalogue_rows():
    ds = fake_dataset()
    train, val, test = (ds.split(s) for s in ("train", "val", "test"))
    est = PhotometricEstimator("knn", k=8).fit(ds, train, val)
    direct = PhotometricBaseline("knn", k=8).fit(ds.catalog[train], ds.catalog[val]).predict_pdfs(ds.catalog[test])
    np.testing.assert_array_equal(est.predict_pdfs(ds, test), direct)


# --------------------------------------------------------------------------- complete cache keys
#: Constructor arguments that say where an estimator is cached, not what it computes.
NOT_OUTPUT = {"name"}
#: Profile fields that reach the PDFs only through the data set or its rows, which the key holds
#: separately (checksums, row digests), or not at all.
PROFILE_NOT_OUTPUT = {"name", "n_galaxies", "split_fractions", "verify_checksums",
                      "ebv_seeds"}  # how many reddening-test pairs are trained, not what a model predicts
#: ... and per class: one member's PDFs do not depend on how many siblings it has.
CLASS_NOT_OUTPUT = {CNN: {"ensemble_size"}}
#: Changed values for arguments whose default is None (a new one must be added here: the test says so).
INSTEAD_OF_NONE = {"seed": 12345, "size": 4, "edges": config.redshift_edges(90)}


def altered(name, value):
    """A different value of the same kind, for any argument or profile field."""
    if value is None:
        assert name in INSTEAD_OF_NONE, f"give tests/test_estimators.py an altered value for {name!r} (default None)"
        return INSTEAD_OF_NONE[name]
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value * 2 + 1
    if isinstance(value, np.ndarray):
        return value * 2
    if isinstance(value, str):
        return {"knn": "rf"}.get(value, value + "x")
    raise AssertionError(f"no altered value for {name}={value!r}")


def key_dataset(images="0", **columns):
    """A stand-in data set for cache keys: an images checksum and the catalogue columns estimators read."""
    table = Table({name: np.zeros(3) for name in ("z_spec", "ebv", *(f"mag_{b}" for b in config.BANDS))})
    for name, values in columns.items():
        table[name] = values
    return types.SimpleNamespace(path="key", catalog=table,
                                 manifest={"files": {"images.npy": {"sha256": images * 64}}})


KEY_DS = key_dataset()
TRAIN, VAL = np.arange(10), np.arange(10, 13)


def key(estimator, ds=KEY_DS, train=TRAIN, val=VAL):
    return pipeline.prediction_key(ds, estimator, train, val)


def arguments(cls):
    """The constructor arguments of ``cls`` with their defaults (a profile for ``profile``)."""
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    return {p.name: config.get_profile("smoke") if p.name == "profile" else p.default for p in params}


@pytest.mark.parametrize("cls", [PhotometricEstimator, ConstantNZ, CNN, CNNEnsemble])
def test_every_argument_changes_the_prediction_key(cls):
    """Each constructor argument (read from the signature, so a new one is covered) and each profile field
    changes the key, as do the data set and the rows; only NOT_OUTPUT and PROFILE_NOT_OUTPUT do not."""
    defaults = arguments(cls)
    base = key(cls(**defaults))
    assert key(cls(**defaults)) == base
    for name, value in defaults.items():
        if name in NOT_OUTPUT:
            continue
        if name == "profile":
            for field in dataclasses.fields(value):
                if field.name in PROFILE_NOT_OUTPUT | CLASS_NOT_OUTPUT.get(cls, set()):
                    continue
                changed = dataclasses.replace(value, **{field.name: altered(field.name, getattr(value, field.name))})
                assert key(cls(**{**defaults, "profile": changed})) != base, f"profile.{field.name} not in the key"
            continue
        assert key(cls(**{**defaults, name: altered(name, value)})) != base, f"{cls.__name__}({name}=...) not in the key"
    assert len({base, key(cls(**defaults), ds=key_dataset(z_spec=[0.1, 0, 0])), key(cls(**defaults), train=TRAIN[1:]),
                key(cls(**defaults), val=VAL[1:])}) == 4


@pytest.mark.parametrize("cls", [PhotometricEstimator, ConstantNZ, CNN, CNNEnsemble])
def test_the_key_covers_what_an_estimator_reads_of_the_data_set_and_nothing_else(cls):
    """New images refit the CNN only, new magnitudes the photometric methods only, new E(B-V) the CNN only;
    a column no method reads refits nothing (a re-measured catalogue keeps the CNN's models)."""
    estimator = cls(**arguments(cls))
    changes = {"images": dict(images="1"), "ebv": dict(ebv=[0.1, 0, 0]), "mag_g": dict(mag_g=[0.1, 0, 0]),
               "petro_r": dict(petro_r=[0.1, 0, 0])}
    refit = {what for what, change in changes.items() if key(estimator, ds=key_dataset(**change)) != key(estimator)}
    assert refit == {PhotometricEstimator: {"mag_g"}, ConstantNZ: set()}.get(cls, {"images", "ebv"})


def test_a_column_an_estimator_reads_but_the_data_set_lacks_is_named():
    ds = key_dataset()
    del ds.catalog["mag_g"]
    with pytest.raises(ContractError, match=r"key/catalog.fits: missing column\(s\) \['mag_g'\]"):
        key(PhotometricEstimator(), ds=ds)


# --------------------------------------------------------------------------- only `train` trains
def test_later_steps_read_and_name_the_training_step(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PHOTOZ_HOME", str(tmp_path))
    profile, ds = config.get_profile("smoke"), fake_dataset()
    with pytest.raises(NotTrained, match=r"constant_nz.npz: PDFs of constant n\(z\) missing.*photoz-nb train --profile smoke"):
        pipeline.predictions(profile, ds, ConstantNZ())
    made = pipeline.predictions(profile, ds, ConstantNZ(), fit=True)
    np.testing.assert_array_equal(pipeline.predictions(profile, ds, ConstantNZ()), made)
    with pytest.raises(NotTrained, match="made from other inputs"):
        pipeline.predictions(profile, ds, ConstantNZ(config.redshift_edges(90)))
    monkeypatch.setattr(pipeline, "dataset", lambda profile: ds)
    for command in ("evaluate", "figures"):
        assert cli.main([command, "--profile", "smoke"]) == 1
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and "photoz-nb train --profile smoke" in err, err
