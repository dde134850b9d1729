"""sigma_MAD of each method's saved test predictions for red and blue galaxies (dereddened measured
u - r above / below 2.22, Strateva et al. 2001), with bootstrap errors.

The embedded population is the MGS matched to 2MASS, redder than the MGS (see photoz_nb/mgs.py): this
says which way a bluer population would move each method.  Needs a trained profile:
    python scripts/sigma_by_colour.py [PROFILE]        (default small)
"""
import sys

import numpy as np

from photoz_nb import config, pipeline
from photoz_nb.stats import sigma_mad

RED_U_MINUS_R = 2.22

profile = config.get_profile(sys.argv[1] if len(sys.argv) > 1 else "small")
ds = pipeline.dataset(profile, "simulation")
pdfs = pipeline.compared(pipeline.all_pdfs(profile, ds))
rows = ds.split("test")
z = ds.column("z_spec", "test")
u_minus_r = ds.column("mag_u", "test") - ds.column("mag_r", "test")
rng = np.random.default_rng(0)
for name, sel in (("red", u_minus_r > RED_U_MINUS_R), ("blue", u_minus_r <= RED_U_MINUS_R)):
    cells = []
    for method, zp in pipeline.point_estimates(pdfs).items():
        dz = ((zp[rows] - z) / (1 + z))[sel]
        boot = [sigma_mad(dz[rng.integers(len(dz), size=len(dz))]) for _ in range(300)]
        cells.append(f"{method} {sigma_mad(dz):.4f} ± {np.std(boot):.4f}")
    print(f"{name} ({sel.sum()} test galaxies): " + "; ".join(cells))
