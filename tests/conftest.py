"""Shared fixtures: small data sets in the data contract, made in a temporary directory."""
import numpy as np
import pytest
from astropy.table import Table

from photoz_nb import catalog, config


def make_catalog(n: int, seed: int = 0) -> Table:
    """A catalogue that satisfies the contract, with plausible values."""
    rng = np.random.default_rng(seed)
    z = rng.uniform(0.02, 0.35, n)
    mags = {f"mag_{b}": 17.0 + rng.normal(0, 0.5, n) + i * -0.3 for i, b in enumerate(config.BANDS)}
    return Table({
        "objid": np.arange(1, n + 1, dtype=np.int64),
        "ra": rng.uniform(0, 360, n), "dec": rng.uniform(-10, 60, n),
        "z_spec": z, "ebv": rng.exponential(0.03, n),
        **mags,
        "petro_r": mags["mag_r"] + 0.1, "b_over_a": rng.uniform(0.2, 1, n),
        "psf_fwhm_r": rng.uniform(0.9, 1.8, n), "n_neighbours": rng.poisson(0.3, n),
        "snr_r": rng.uniform(20, 200, n), "stripe82": rng.random(n) < 0.05,
        "split": catalog.assign_splits(n, (0.6, 0.2, 0.2), seed),
    })


def write_tiny_dataset(path, n: int = 64, seed: int = 0):
    """A contract-valid data set whose images carry a redshift-dependent signal."""
    cat = make_catalog(n, seed)
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:config.STAMP, :config.STAMP] - (config.STAMP - 1) / 2
    blob = np.exp(-(xx**2 + yy**2) / (2 * 3.0**2))
    colour = np.linspace(1, 2, len(config.BANDS))
    with catalog.DatasetWriter(path, cat, {"generator": "tests.tiny", "seed": seed}) as w:
        for start, stop in w.pending_chunks(32):
            z = np.asarray(cat["z_spec"][start:stop])[:, None, None, None]
            imgs = blob[None, :, :, None] * (colour ** (1 + 10 * z)) * 5
            imgs = imgs + rng.normal(0, 0.05, imgs.shape)
            w.write(start, imgs.astype(np.float32))
    return path


@pytest.fixture
def tiny_dataset(tmp_path):
    """Path to a freshly written 64-galaxy data set."""
    return write_tiny_dataset(tmp_path / "tiny")
