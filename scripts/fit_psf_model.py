"""Print the simulator's per-band PSF shape derived from the real stars (render.PSF_CORE_BETA,
PSF_WING_FRACTION, PSF_WING_SCALE): realism.fit_psf_model on the two fields of the committed sample
data/sdss_sample (the default; the constants were fitted on them), or on every complete field in frames_dir
(e.g. a developer's ../shared/sdss_frames) (core + wing fitted in realism.PSF_FIT_BOX-sided native boxes,
other sources masked).

    python scripts/fit_psf_model.py [frames_dir]
"""
import sys
import warnings

from photoz_nb import validation as realism


def main(frames_dir=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        model = realism.fit_psf_model(realism.load_fields(frames_dir))
    print("band  stars  median beta  core beta  fits S/N>300  wing fraction (IQR)      wing scale (IQR)")
    for r in model:
        (f25, f75), (s25, s75) = r["wing_fraction_iqr"], r["wing_scale_iqr"]
        print(f"{r['band']:4s}  {r['n_beta']:5d}  {r['beta_median']:11.2f}  {r['core_beta']:9.1f}  {r['n_wing']:13d}  "
              f"{r['wing_fraction']:.3f} ({f25:.3f}-{f75:.3f})    {r['wing_scale']:.2f} ({s25:.2f}-{s75:.2f}, "
              f"{r['n_scale']} fits)")


if __name__ == "__main__":
    main(*sys.argv[1:2])
