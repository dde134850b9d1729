"""Colour gradients as a catalogue shows them: Petrosian minus model colours, simulated against real.

SDSS's model colour weights a galaxy by its r-band model profile (:mod:`photoz_nb.simulate.modelfit`),
which favours the centre; its Petrosian colour is that of the light within 2 R_P(r), the same aperture
in every band.  A galaxy redder at its centre than outside therefore has a Petrosian colour bluer than
its model colour, and the spread of that difference among galaxies of one type and redshift measures
how much their colour gradients vary (plus both measurements' noise, which the simulated stamps carry
as the real catalogue does: :mod:`.catalogue_errors`).

Real: the 9,811 MGS galaxies of kcorrect's catalogue (model and Petrosian fluxes in five bands).
Simulated: ``n`` new galaxies, their stamps measured as SDSS measures them (model colours from the r
fit's shape, Petrosian colours within 2 R_P) -- tens of milliseconds a galaxy, so a validation, not
part of a build.  Extinction cancels in each difference (both fluxes carry the same).
"""
from __future__ import annotations

import numpy as np
from astropy.table import Table
from tqdm.auto import tqdm

from .. import config, mgs
from ..simulate import galaxies, modelfit, photometry
from ..stats import bootstrap, sigma_mad

BANDS = config.BANDS
COLOURS = tuple(f"{a}-{b}" for a, b in zip(BANDS, BANDS[1:]))
#: Redshift bins (each holds ~a third of the real red galaxies).
Z_EDGES = (0.0, 0.08, 0.14, 0.4)


def gradient_sample(z, model_flux, petro_flux, extinction=None) -> dict:
    """z, dereddened model u - r, and Petrosian minus model colours (n, 4) from fluxes (n, 5) in nanomaggies."""
    model, petro = mgs.asinh_mags(model_flux), mgs.asinh_mags(petro_flux)
    u_minus_r = model[:, 0] - model[:, 2]
    if extinction is not None:
        u_minus_r = u_minus_r - (extinction[:, 0] - extinction[:, 2])
    return dict(z=np.asarray(z, float), u_minus_r=u_minus_r, delta=-np.diff(petro, axis=1) + np.diff(model, axis=1))


def real_gradients() -> dict:
    """:func:`gradient_sample` of the real MGS galaxies (dereddened fluxes: no extinction left)."""
    m = mgs.read_mgs()
    return gradient_sample(m.z, m.flux, m.petro_flux)


def simulated_gradients(n: int, seed: int = 0, progress: bool = True) -> dict:
    """:func:`gradient_sample` of ``n`` simulated galaxies, measured on their noisy stamps as SDSS does."""
    draws = galaxies.draw_galaxies(n, seed)
    params = draws.params
    model, petro = np.empty((n, len(BANDS))), np.empty((n, len(BANDS)))
    for i in tqdm(range(n), desc="SDSS model fits", disable=not progress, leave=False):
        rendered = photometry.render_galaxy(params, i)
        image = photometry.noisy_image(params, i, seed, i, rendered.stamp)
        petro[i] = photometry.measure_galaxy(image, rendered.stamp, rendered, params, i)[3]
        model[i] = modelfit.sdss_model_fluxes(image, rendered, params, i)
    extinction = -2.5 * np.log10(draws.transmission)
    return gradient_sample(draws.pop.z, model, petro, extinction)


def _summary(delta: np.ndarray, n_boot: int, seed: int) -> tuple:
    """(median, its error, sigma_MAD, its error) of each column of ``delta``."""
    def stat(d):
        return {**{f"m{j}": float(np.median(d[:, j])) for j in range(d.shape[1])},
                **{f"s{j}": sigma_mad(d[:, j]) for j in range(d.shape[1])}}
    value, err = stat(delta), bootstrap(stat, delta, n_boot=n_boot, seed=seed)
    k = range(delta.shape[1])
    return ([value[f"m{j}"] for j in k], [err[f"m{j}"] for j in k], [value[f"s{j}"] for j in k],
            [err[f"s{j}"] for j in k])


def gradient_table(real: dict, sim: dict, z_edges=Z_EDGES, n_boot: int = 200, seed: int = 0) -> Table:
    """Per colour type (u - r above / below 2.22), redshift bin and colour: median and sigma_MAD of
    Petrosian minus model colour, real and simulated, with bootstrap errors and the sigma_MAD ratio."""
    rows = []
    for kind, red in (("red", True), ("blue", False)):
        for lo, hi in zip(z_edges[:-1], z_edges[1:]):
            picked = {}
            for name, s in (("real", real), ("sim", sim)):
                keep = ((s["u_minus_r"] > galaxies.EARLY_TYPE_U_MINUS_R) == red) & (s["z"] > lo) & (s["z"] <= hi)
                keep &= np.isfinite(s["delta"]).all(axis=1)
                picked[name] = (int(keep.sum()), *_summary(s["delta"][keep], n_boot, seed)) if keep.sum() >= 20 else None
            if picked["real"] is None or picked["sim"] is None:
                continue
            (nr, mr, mre, sr, sre), (ns, ms, mse, ss, sse) = picked["real"], picked["sim"]
            for j, colour in enumerate(COLOURS):
                rows.append(dict(type=kind, z_lo=lo, z_hi=hi, colour=colour, n_real=nr, n_sim=ns,
                                 median_real=mr[j], median_real_err=mre[j], median_sim=ms[j], median_sim_err=mse[j],
                                 sigma_real=sr[j], sigma_real_err=sre[j], sigma_sim=ss[j], sigma_sim_err=sse[j],
                                 sigma_ratio=ss[j] / sr[j]))
    return Table(rows=rows)
