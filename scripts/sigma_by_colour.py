"""sigma_MAD of each method's saved test predictions for blue and red galaxies (dereddened measured
u - r below / above 2.22, Strateva et al. 2001), with bootstrap errors (metrics.binned_metrics).

The embedded population is the MGS matched to 2MASS, redder than the MGS (see photoz_nb/mgs.py): this
says which way a bluer population would move each method.  Needs a trained profile:
    python scripts/sigma_by_colour.py [PROFILE]        (default small)
"""
import sys

from photoz_nb import config, metrics, pipeline

RED_U_MINUS_R = 2.22

profile = config.get_profile(sys.argv[1] if len(sys.argv) > 1 else "small")
ds = pipeline.dataset(profile, "simulation")
pdfs = pipeline.compared(pipeline.all_pdfs(profile, ds))
rows = ds.split("test")
z = ds.column("z_spec", "test")
u_minus_r = ds.column("mag_u", "test") - ds.column("mag_r", "test")
edges = [u_minus_r.min(), RED_U_MINUS_R, u_minus_r.max()]
for method, zp in pipeline.point_estimates(pdfs).items():
    blue, red = metrics.binned_metrics(u_minus_r, zp[rows], z, edges)
    print(f"{method}: blue {blue['sigma_mad']:.4f} ± {blue['sigma_mad_err']:.4f} ({blue['n']} galaxies), "
          f"red {red['sigma_mad']:.4f} ± {red['sigma_mad_err']:.4f} ({red['n']} galaxies)")
