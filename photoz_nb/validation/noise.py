"""Comparison 1: sky noise per pixel of simulated stamps and of real cutouts."""
from __future__ import annotations

import dataclasses

import numpy as np
from tqdm.auto import tqdm

from .. import catalog, config
from ..measure import sky_noise
from ..sdss.cutouts import CutoutError, cutout
from .fields import RealField, _box, _world_to_pixel
from .thresholds import BANDS


@dataclasses.dataclass
class NoiseResult:
    sim: np.ndarray            # (n_sim, 5) measured on simulated stamps
    sim_truth: np.ndarray      # (n_sim, 5) the catalogue's delivered noise of the same stamps
    real: dict                 # field -> (n, 5) measured on real cutouts
    real_native: dict          # field -> (n, 5) measured on native frame boxes of the same size

    def medians(self):
        """Median simulated noise, and the mean over real fields of each field's median: the
        simulator's sky noise is the mean of the fields, and a pooled median of two fields that
        differ by 20 % falls in the gap between them."""
        real = np.mean([np.median(v, axis=0) for v in self.real.values()], axis=0)
        return np.median(self.sim, axis=0), real


def _rows(n_total: int, n: int | None, seed: int) -> np.ndarray:
    if n is None or n >= n_total:
        return np.arange(n_total)
    return np.sort(np.random.default_rng(seed).choice(n_total, size=n, replace=False))


def compare_sky_noise(ds: catalog.Dataset, fields: list[RealField], n_sim: int | None = 300,
                      n_real: int = 40, seed: int = 0, progress: bool = True) -> NoiseResult:
    """Sky noise per stamp pixel on simulated stamps and on real cutouts at random positions."""

    rows = _rows(len(ds), n_sim, seed)
    sim = np.array([[sky_noise(ds.images[i, :, :, b]) for b in range(len(BANDS))]
                    for i in tqdm(rows, desc="sky noise (sim)", unit="stamp", disable=not progress)])
    truth_cols = [f"noise_{b}" for b in BANDS]
    truth = (np.column_stack([ds.column(c)[rows] for c in truth_cols])
             if all(c in ds.catalog.colnames for c in truth_cols) else np.full_like(sim, np.nan))
    rng = np.random.default_rng(seed)
    real, native = {}, {}
    for field in tqdm(fields, desc="sky noise (real)", unit="field", disable=not progress):
        frame_r = field.frames["r"]
        ny, nx = frame_r.image.shape
        measured, measured_native = [], []
        for _ in range(4 * n_real):
            if len(measured) == n_real:
                break
            x, y = rng.uniform(60, nx - 60), rng.uniform(60, ny - 60)
            ra, dec = frame_r.wcs.pixel_to_world_values(x, y)
            try:
                stamp = cutout(field.frames, float(ra), float(dec))
            except CutoutError:
                continue
            boxes = [_box(field.frames[b].image, *_world_to_pixel(field.frames[b], ra, dec), config.STAMP - 1)
                     for b in BANDS]
            if any(box is None for box in boxes):
                continue
            measured.append([sky_noise(stamp[:, :, j]) for j in range(len(BANDS))])
            measured_native.append([sky_noise(box) for box in boxes])
        real[field.name], native[field.name] = np.array(measured), np.array(measured_native)
    return NoiseResult(sim, truth, real, native)
