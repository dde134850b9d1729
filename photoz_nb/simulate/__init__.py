"""The embedded default data set: real SDSS MGS galaxies rendered as 64x64 ugriz cutouts.

>>> from photoz_nb import simulate                       # doctest: +SKIP
>>> path = simulate.ensure_dataset("smoke")               # builds once, then reuses

Modules: :mod:`.galaxies` (population, morphology, catalogue), :mod:`.sed` (kcorrect fits,
distances), :mod:`.observe` (PSF, noise, extinction, neighbours), :mod:`.render`
(analytic Fourier-space renderer), :mod:`.build` (chunked, parallel, resumable builds).
"""
from .build import GENERATOR, VERSION, build_dataset, ensure_dataset
from .galaxies import make_catalog
from .render import Component, half_light_radius, render_stamp

__all__ = ["GENERATOR", "VERSION", "build_dataset", "ensure_dataset", "make_catalog",
           "Component", "render_stamp", "half_light_radius"]
