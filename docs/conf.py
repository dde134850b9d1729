# Sphinx configuration of the tutorial site (staged and built by docs/build.py; `make docs`).
project = "photoz-nb"
author = "photoz-nb contributors"
# sphinx-mathjax-offline serves MathJax 3 from the site itself: the site needs no internet.
extensions = ["myst_nb", "sphinx-mathjax-offline"]
# The notebooks are shown as `photoz-nb reproduce` executed them: never run at build time.
nb_execution_mode = "off"
# $...$ and $$...$$ maths in the README and the notebooks' markdown.
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3
html_theme = "alabaster"
html_theme_options = {"page_width": "1200px", "body_max_width": "none"}
html_title = "photoz-nb tutorial"
copyright = "photoz-nb contributors; SDSS data: see data/sdss_sample/README.md"
html_favicon = "favicon.svg"
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
# The README links to source files (photoz_nb/..., data/README.md) that are not pages of the site.
suppress_warnings = ["myst.xref_missing"]
