"""Synthetic, contract-valid catalogues and data sets for tests and benchmarks (not galaxies).

Kept apart from :mod:`photoz_nb.catalog`, which is the data contract itself.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from astropy.table import Table

from . import catalog, config


def synthetic_catalog(n: int, seed: int = 0, split_fractions=(0.6, 0.2, 0.2)) -> Table:
    """A contract-valid catalogue of ``n`` made-up galaxies with plausible values (tests, benchmarks)."""
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
        "split": catalog.assign_splits(n, split_fractions, seed),
    })


def write_synthetic_dataset(path, n: int = 64, seed: int = 0, chunk: int = 256) -> Path:
    """A contract-valid data set of round blobs whose colours grow redder with redshift.

    A network can learn redshift from these images, so they make quick end-to-end tests and
    memory benchmarks; they are not galaxies (use :mod:`photoz_nb.simulate` for those).
    """
    cat = synthetic_catalog(n, seed)
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:config.STAMP, :config.STAMP] - (config.STAMP - 1) / 2
    blob = np.exp(-(xx**2 + yy**2) / (2 * 3.0**2))
    colour = np.linspace(1, 2, len(config.BANDS))
    with catalog.DatasetWriter(path, cat, {"generator": "photoz_nb.catalog.synthetic", "seed": seed}) as writer:
        for start, stop in writer.pending_chunks(chunk):
            z = np.asarray(cat["z_spec"][start:stop])[:, None, None, None]
            images = blob[None, :, :, None] * (colour ** (1 + 10 * z)) * 5
            images = images + rng.normal(0, 0.05, images.shape)
            writer.write(start, images.astype(np.float32))
    return Path(path)
