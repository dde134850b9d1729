"""Re-derive the simulator's survey distribution of observing conditions (observe.FIELD_*).

Developer-only (reads ../shared): run from the project root,

    python scripts/fit_observing_conditions.py [frames_dir] [--cache build/observing_real.json] [--check-stamps N]

1. measures every complete real field in ``frames_dir`` (default $PHOTOZ_SHARED/sdss_frames) with
   the realism report's own code: sky noise per pixel of real 64x64 cutouts at random positions
   (realism.compare_sky_noise) and the Moffat-core and effective FWHM of isolated stars
   (realism.psf_stars + the same width measurement as realism.compare_psf);
2. reads the photoField table of run 2583 camcol 2 (227 fields of one night) for the correlations
   between bands and between seeing and sky noise;
3. combines them with the survey-wide r-band quartiles of the DR1 fields, and prints the constants
   of observe.py and the per-band table of the report.
"""
from __future__ import annotations

import argparse
import json
import types
import warnings
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.table import Table
from astropy.wcs import WCS
from astropy.wcs.utils import proj_plane_pixel_scales

from photoz_nb import config
from photoz_nb import validation as realism
from photoz_nb.simulate import observe

BANDS = config.BANDS
R = BANDS.index("r")
PHOTOFIELD = "photoField-002583-2.fits"


class _NoSimulation:
    """Stand-in data set with no simulated rows: lets realism.compare_* measure the real fields only."""

    def __init__(self):
        self.catalog = Table({f"psf_fwhm_{b}": [1.0] for b in BANDS})
        self.images = np.zeros((1, config.STAMP, config.STAMP, len(BANDS)), np.float32)

    def __len__(self):
        return 1

    def column(self, name):
        return np.asarray(self.catalog[name])


def measure_real_fields(frames_dir, n_real: int = 60, seed: int = 0) -> dict:
    """Per field: cutout sky-noise median and its n; Moffat-core and effective FWHM medians and n stars."""
    fields = realism.load_fields(frames_dir)
    ds = _NoSimulation()
    noise = realism.compare_sky_noise(ds, fields, n_sim=0, n_real=n_real, seed=seed)
    psf = realism.compare_psf(ds, fields, n_sim=0, seed=seed)
    out = {}
    for field in fields:
        core, eff = psf.real[field.name], psf.real_eff[field.name]
        out[field.name] = dict(
            noise_cutout=np.median(noise.real[field.name], axis=0).tolist(), n_cutouts=len(noise.real[field.name]),
            fwhm_core=np.nanmedian(core, axis=0).tolist(), fwhm_eff=np.nanmedian(eff, axis=0).tolist(),
            n_stars=np.isfinite(core).sum(axis=0).tolist(), star_source=psf.star_source[field.name],
            fwhm_calibobj=(np.nanmedian(psf.calibobj[field.name], axis=0).tolist()
                           if field.name in psf.calibobj else None))
    return out


def read_photofield(path) -> dict:
    """log PSF_WIDTH (arcsec) and log native sky noise (nanomaggies per pixel) per good field of the run.

    Units (the datamodel's column list, data.sdss3.org photoField.html, names the columns; their units
    checked numerically on this file): SKY is nanomaggies/arcsec^2 (r: 20.66 mag/arcsec^2, the DR1
    median is 20.86), not mag; SKYSIG is the sky sigma per pixel in counts (DN), not mag/arcsec^2, so
    SKYSIG x NMGYPERCOUNT is nanomaggies per pixel; its median agrees with SIGPIX (nanomaggies/arcsec^2)
    x PIXSCALE^2 within 1.1-2.6 % per band and with the photon noise sqrt(sky counts x GAIN + DARK_VARIANCE) / GAIN
    within 3-15 % (u and i, whose DARK_VARIANCE is largest, are highest); PSF_WIDTH is the effective
    FWHM (arcsec) = 0.6643 sqrt(NEFF_PSF) x PIXSCALE within 1 %.
    """
    t = fits.getdata(path, 1)
    good = np.asarray(t["QUALITY"]) == 3  # AR_DQ_GOOD
    noise = np.asarray(t["SKYSIG"], float) * np.asarray(t["NMGYPERCOUNT"], float)
    sky_mag = 22.5 - 2.5 * np.log10(np.asarray(t["SKY"], float))
    return dict(log_psf=np.log(np.asarray(t["PSF_WIDTH"], float)[good]), log_noise=np.log(noise[good]),
                sky_mag=sky_mag[good], n=int(good.sum()), n_all=len(t),
                electrons_per_nmgy=np.median(np.asarray(t["GAIN"], float) / np.asarray(t["NMGYPERCOUNT"], float), 0))


#: Survey-wide r-band quartiles of the DR1 fields (SDSS DR7 web site, "Seeing and sky brightness",
#: www.sdss.org/dr7/products/general/seeing.html; seeing = effective PSF width, Stoughton et al. 2002 s. 4.3):
#: PSF width 1.30 / 1.43 / 1.58 arcsec, sky 21.03 / 20.86 / 20.70 mag/arcsec^2.
SURVEY_PSF_R_QUARTILES = (1.30, 1.43, 1.58)
SURVEY_SKY_R_QUARTILES = (20.70, 20.86, 21.03)
IQR_SIGMAS = 2 * 0.6744897501960817  # interquartile range of a unit normal
#: d ln(sky noise) / d(sky mag): noise ~ sqrt(sky flux) where the sky dominates (r: dark variance
#: 1 DN^2 against ~700 e- of sky per pixel in run 2583)
LN_NOISE_PER_SKY_MAG = -0.5 * 0.4 * np.log(10)


def frame_sky_mag(frames_dir, field: str, band: str = "r") -> float:
    """Median sky of a frame (HDU2 ALLSKY counts x HDU1 nanomaggies per count) in mag/arcsec^2."""
    path = Path(frames_dir) / f"frame-{band}-{field}.fits.bz2"
    with fits.open(path) as h:
        sky = np.median(h[2].data["ALLSKY"][0]) * np.median(h[1].data)
        scale = float(np.mean(proj_plane_pixel_scales(WCS(h[0].header)))) * 3600
    return float(22.5 - 2.5 * np.log10(sky / scale ** 2))


def fit(real: dict, run: dict, sky_r: dict) -> dict:
    """The parameters of observe's field distribution (see observe.draw_fields) and their provenance.

    ln x = mean + common factor (one per quantity, all bands) + per-band term + within-night term:
    - PSF (Moffat core FWHM): level from the survey r median effective width x the core/effective
      ratio of the calibObj field; band ratios and per-band scatter from the real fields' stars;
      the common factor's variance is the survey r variance less the within-night one.
    - sky noise (native, nanomaggies/pixel): each night (real field or the run) is moved to the survey's
      median r sky by its own r sky (noise ~ sqrt(sky)); the mean over nights is the median, their
      scatter the per-band term; the common factor is the survey r sky scatter less the other terms.
    - within-night: covariance of ln PSF_WIDTH and ln SKYSIG x NMGYPERCOUNT over the run's fields
      (the only source for seeing-noise and band-band correlations at fixed night).
    """
    names = list(real)
    factor = float(np.median(observe.resampling_noise_factor(np.random.default_rng(0).random((100000, 2)))))
    core = np.log([real[f]["fwhm_core"] for f in names])
    noise = np.log([np.asarray(real[f]["noise_cutout"]) / factor for f in names])
    calib = [f for f in names if real[f].get("fwhm_calibobj")]
    if not calib:
        raise ValueError("no field with a calibObj: the core/effective PSF ratio needs calibObj PSF_FWHM")
    core_over_eff = np.mean([real[f]["fwhm_core"][R] / real[f]["fwhm_calibobj"][R] for f in calib])
    # PSF
    lo, med, hi = SURVEY_PSF_R_QUARTILES
    total_psf_r = np.log(hi / lo) / IQR_SIGMAS
    run_cov = np.cov(np.column_stack([run["log_psf"], run["log_noise"]]).T)
    run_sd = np.sqrt(np.diag(run_cov))
    colour = core - core[:, [R]]
    run_colour_var = np.var(run["log_psf"] - run["log_psf"][:, [R]], axis=0, ddof=1)
    psf_band = np.sqrt(np.maximum(np.var(colour, axis=0, ddof=1) - run_colour_var, 0.0))
    psf_common = np.sqrt(total_psf_r ** 2 - run_sd[R] ** 2)
    psf_median = np.exp(np.log(med * core_over_eff) + colour.mean(axis=0))
    # sky noise: the real fields and the run are the nights
    lo_s, med_s, hi_s = SURVEY_SKY_R_QUARTILES
    total_noise_r = abs(LN_NOISE_PER_SKY_MAG) * (hi_s - lo_s) / IQR_SIGMAS
    nights = np.vstack([noise, np.median(run["log_noise"], axis=0)])
    night_sky = np.array([sky_r[f] for f in names] + [np.median(run["sky_mag"][:, R])])
    at_median_sky = nights + LN_NOISE_PER_SKY_MAG * (med_s - night_sky)[:, None]
    noise_band = np.sqrt(np.maximum(np.var(at_median_sky, axis=0, ddof=1) - run_sd[5:] ** 2, 0.0))
    noise_common = np.sqrt(total_noise_r ** 2 - noise_band[R] ** 2 - run_sd[5 + R] ** 2)
    return dict(psf_median=psf_median, psf_common=psf_common, psf_band=psf_band,
                noise_median=np.exp(at_median_sky.mean(axis=0)), noise_common=noise_common, noise_band=noise_band,
                run_sd=run_sd, run_corr=run_cov / np.outer(run_sd, run_sd), core_over_eff=core_over_eff,
                calib_fields=calib, n_nights=len(nights), n_fields=len(names), n_run=run["n"], factor=factor,
                electrons_per_nmgy=run["electrons_per_nmgy"], night_sky=night_sky, nights=names + ["run 2583-2"])


def print_constants(p: dict) -> None:
    fmt = lambda v: "{" + ", ".join(f'"{b}": {x:.4g}' for b, x in zip(BANDS, v)) + "}"
    print(f"# core/effective FWHM ratio in r (fields {p['calib_fields']}): {p['core_over_eff']:.3f}; "
          f"median resampling factor {p['factor']:.4f}")
    print(f"# nights: {p['nights']}; their r sky (mag/arcsec^2): {np.round(p['night_sky'], 3).tolist()}")
    print(f"FIELD_PSF_MEDIAN = {fmt(p['psf_median'])}")
    print(f"FIELD_PSF_SIGMA = ({p['psf_common']:.4f}, {fmt(p['psf_band'])})")
    print(f"FIELD_NOISE_MEDIAN = {fmt(p['noise_median'])}")
    print(f"FIELD_NOISE_SIGMA = ({p['noise_common']:.4f}, {fmt(p['noise_band'])})")
    print(f"RUN_SIGMA = ({', '.join(f'{x:.4f}' for x in p['run_sd'])})")
    print("RUN_CORRELATION = np.array([")
    for row in p["run_corr"]:
        print("    [" + ", ".join(f"{x:+.2f}" for x in row) + "],")
    print("])")
    print(f"# run electrons per nanomaggy (GAIN / NMGYPERCOUNT): {fmt(p['electrons_per_nmgy'])}")


def _pct(values) -> str:
    lo, mid, hi = np.percentile(values, [5, 50, 95])
    return f"{mid:.4g} [{lo:.4g}-{hi:.4g}]"


def report_table(real: dict, run: dict, n: int = 20000, seed: int = 0) -> str:
    """Markdown table per band: simulated fields (median [5-95 %]) against the real fields and the run."""
    from photoz_nb.simulate import galaxies

    obs = galaxies.draw_observing(n, galaxies.stream(seed, galaxies.STREAM_OBSERVING),
                                  galaxies.stream(seed, galaxies.STREAM_PSF_SHAPE))
    lines = ["| band | PSF core FWHM sim | real fields (core) | run 2583 PSF_WIDTH (effective) | "
             "native noise sim | run 2583 native noise | delivered noise sim | real fields (cutouts) | "
             "real percentile in sim |", "|---" * 9 + "|"]
    rows = observe.span_check(obs["noise"], {f: v["noise_cutout"] for f, v in real.items()})
    for j, b in enumerate(BANDS):
        pct = ", ".join(f"{r['percentile']:.0f}" for r in rows if r["band"] == b)
        real_psf = ", ".join(f"{v['fwhm_core'][j]:.2f}" for v in real.values())
        real_noise = ", ".join(f"{v['noise_cutout'][j]:.4f}" for v in real.values())
        lines.append(f"| {b} | {_pct(obs['psf'][:, j])} | {real_psf} | {_pct(np.exp(run['log_psf'][:, j]))} | "
                     f"{_pct(obs['noise_native'][:, j])} | {_pct(np.exp(run['log_noise'][:, j]))} | "
                     f"{_pct(obs['noise'][:, j])} | {real_noise} | {pct} |")
    return "\n".join(lines) + f"\n(real fields in the order {', '.join(real)}; {n} simulated galaxies, seed {seed})"


def check_stamps(real: dict, n: int, seed: int = 0) -> list[dict]:
    """Build ``n`` simulated stamps and place each real field's cutout noise in their measured noise."""
    import tempfile

    from photoz_nb import catalog
    from photoz_nb.simulate import build

    with tempfile.TemporaryDirectory() as tmp:
        path = build.build_dataset("smoke", Path(tmp) / "stamps", seed=seed, n=n, progress=False)
        ds = catalog.open_dataset(path, verify_checksums=False)
        sim = np.array([[realism.sky_noise(ds.images[i, :, :, j]) for j in range(len(BANDS))] for i in range(len(ds))])
    return observe.span_check(sim, {f: v["noise_cutout"] for f, v in real.items()})


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("frames_dir", nargs="?", default=None)
    p.add_argument("--cache", default=None, help="JSON file keeping the real-field measurements between runs")
    p.add_argument("--check-stamps", type=int, default=0, metavar="N",
                   help="also build N stamps and place the real fields in their measured sky noise")
    args = p.parse_args(argv)
    frames_dir = Path(args.frames_dir) if args.frames_dir else config.sample_frames_dir()
    cache = Path(args.cache) if args.cache else None
    if cache is not None and cache.is_file():
        real = json.loads(cache.read_text())
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            real = measure_real_fields(frames_dir)
        if cache is not None:
            cache.parent.mkdir(parents=True, exist_ok=True)
            cache.write_text(json.dumps(real, indent=1))
    run = read_photofield(frames_dir / PHOTOFIELD)
    sky_r = {f: frame_sky_mag(frames_dir, f) for f in real}
    print_constants(fit(real, run, sky_r))
    print()
    print(report_table(real, run))
    if args.check_stamps:
        print(f"\nsky noise measured on {args.check_stamps} simulated stamps (realism.sky_noise): "
              "percentile of each real field's median")
        for r in check_stamps(real, args.check_stamps):
            print(f"{r['field']} {r['band']} real {r['real']:.4f} sim {r['sim_median']:.4f} "
                  f"[{r['sim_low']:.4f}-{r['sim_high']:.4f}] percentile {r['percentile']:5.1f} "
                  f"{'ok' if r['passed'] else 'OUTSIDE'}")


if __name__ == "__main__":
    main()
