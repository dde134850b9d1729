"""Comparison 4: median colours and their scatter against redshift, simulated against the real MGS."""
from __future__ import annotations

import dataclasses

import numpy as np
from astropy.table import Table

from ..simulate import galaxies
from ..stats import nanomaggies_to_mag, require_columns, sigma_mad
from .thresholds import BANDS, COLOUR_Z_EDGES, MIN_PER_BIN

COLOURS = (("u", "g"), ("g", "r"), ("r", "i"))


@dataclasses.dataclass
class ColourResult:
    z_edges: np.ndarray
    n_sim: np.ndarray          # per bin
    n_real: np.ndarray
    sim: dict                  # "g-r" -> (median per bin, scatter per bin)
    real: dict
    samples: dict              # "sim" / "real" -> (z, {colour: values}) for scatter plots

    @property
    def usable(self) -> np.ndarray:
        return (self.n_sim >= MIN_PER_BIN) & (self.n_real >= MIN_PER_BIN)

    def rms_median_difference(self, colour: str) -> float:
        d = (self.sim[colour][0] - self.real[colour][0])[self.usable]
        return float(np.sqrt(np.mean(d ** 2))) if d.size else np.nan

    def scatter_ratio(self, colour: str) -> float:
        return float(np.mean((self.sim[colour][1] / self.real[colour][1])[self.usable]))


def _binned(z, values, edges):
    idx = np.digitize(z, edges) - 1
    med, scat, n = (np.full(len(edges) - 1, np.nan) for _ in range(3))
    for k in range(len(edges) - 1):
        v = values[idx == k]
        n[k] = v.size
        if v.size:
            med[k], scat[k] = np.median(v), sigma_mad(v)
    return med, scat, n


def compare_colour_redshift(cat: Table, real: galaxies.Population | None = None,
                            z_edges: np.ndarray = COLOUR_Z_EDGES) -> ColourResult:
    """Median and robust scatter of colours in redshift bins: simulated vs real MGS catalogue."""
    real = real if real is not None else galaxies.load_real_galaxies()
    require_columns(cat, ("z_spec", *(f"mag_{b}" for b in BANDS)), "catalogue", " for the colour-redshift comparison")
    z_sim = np.asarray(cat["z_spec"], float)
    mag_sim = {b: np.asarray(cat[f"mag_{b}"], float) for b in BANDS}
    mag_real = {b: nanomaggies_to_mag(real.flux[:, j]) for j, b in enumerate(BANDS)}
    out = {"sim": {}, "real": {}}
    samples = {"sim": (z_sim, {}), "real": (real.z, {})}
    for a, b in COLOURS:
        name = f"{a}-{b}"
        for key, z, mags in (("sim", z_sim, mag_sim), ("real", real.z, mag_real)):
            colour = mags[a] - mags[b]
            med, scat, n = _binned(z, colour, z_edges)
            out[key][name] = (med, scat)
            out[key + "_n"] = n
            samples[key][1][name] = colour
    return ColourResult(np.asarray(z_edges), out["sim_n"], out["real_n"], out["sim"], out["real"], samples)
