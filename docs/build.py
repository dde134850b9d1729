"""Build the tutorial site: the README, the executed notebooks of a profile and the figure index, as static HTML.

    python docs/build.py [--profile small] [--out build/docs]

Stages ``<out>/src`` (this folder's conf.py, a landing page, the README and its images, this folder's pages
(results, simulation, realism, information, benchmarks, usage, real_survey, architecture) and CHANGELOG.md, ``build/notebooks/<profile>/*.ipynb``
as written by ``photoz-nb reproduce``, the figure index with ``figures/<profile>/*.png``), then runs Sphinx
with myst-nb into ``<out>/html``.  Nothing is executed: the notebooks are shown as the run left them.
"""
from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from photoz_nb.cli import NOTEBOOKS  # noqa: E402  (the notebooks, in reading order)

#: The site's pages written in this folder, in the order of the landing page's list (each a Markdown file here).
PAGES = {"results": "the `small` run's tables: summary, bias studies, the reddening test, ensemble, calibration",
         "simulation": "the embedded simulation: how the galaxies, the images and the catalogue are made",
         "realism": "the realism report: the simulation against real SDSS frames and galaxies",
         "information": "how much redshift information the simulated galaxies hold, what could add more, and their "
                        "colour gradients against the real SDSS catalogue",
         "benchmarks": "speed and memory: our code against libraries, Keras backends, GPUs, simulation, wall times",
         "usage": "the command line, the profiles, running on a GPU and your own data in full",
         "real_survey": "running on the real survey: disk and time, mirrors, the public cube, failed downloads",
         "architecture": "the package's layers and what the tests check"}
#: Each chapter's title and one line, for the landing page.
CHAPTERS = {
    "01_data_preparation": ("Data preparation", "the data: one galaxy's five bands, its PSF, noise and extinction; "
                            "the data set and its realism against real SDSS galaxies"),
    "02_train_cnn": ("Training the CNN", "Net_P block by block, the pixel stretch and the eight views, the loss; the "
                     "ensemble against kNN, a random forest and the constant n(z)"),
    "03_pdf_calibration": ("Calibrating the PDFs", "PIT and CRPS, what a PIT histogram's shape says, and three "
                           "recalibrations judged on the test split"),
    "04_bias_studies": ("Bias studies", "bias and scatter against reddening, inclination, seeing, S/N, magnitude and "
                        "redshift; the paper's E(B−V) experiment"),
    "05_paper_figures": ("The paper's figures", "every figure of the paper and its summary table, regenerated from "
                         "the saved predictions"),
}


def executed_notebooks(profile: str) -> list[Path]:
    """``build/notebooks/<profile>/NN_*.ipynb``; raises naming the folder and the command if one is missing."""
    folder = ROOT / "build" / "notebooks" / profile
    paths = [folder / f"{name}.ipynb" for name in NOTEBOOKS]
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise SystemExit(f"{folder}: no executed notebook(s) {missing}; run `PHOTOZ_PROFILE={profile} make reproduce` "
                         "first (the site shows a run's outputs, it never executes)")
    return paths


def figure_index(profile: str, src: Path) -> str:
    """figures/README.md (what each figure is), then every PNG of ``figures/<profile>/``."""
    text = (ROOT / "figures" / "README.md").read_text()
    pngs = sorted((ROOT / "figures" / profile).glob("*.png"))
    if pngs:
        (src / "figures" / profile).mkdir(parents=True, exist_ok=True)
        text += f"\n## The figures of the `{profile}` run\n"
        for png in pngs:
            shutil.copy2(png, src / "figures" / profile / png.name)
            text += f"\n### {png.stem}\n\n![{png.stem}](figures/{profile}/{png.name})\n"
    return text


def site_links(text: str) -> str:
    """Links of the repository's Markdown (README at the root, pages in docs/) as they resolve on the site, where
    every page sits at the top of the source tree; ``<img src=... width=...>`` becomes a Markdown image (Sphinx
    copies only the images it knows of)."""
    text = re.sub(r'<p align="center"><img src="([^"]+)"[^>]*alt="([^"]*)"[^>]*></p>', r"![\2](\1)", text)
    text = re.sub(r'<img src="([^"]+)"[^>]*alt="([^"]*)"[^>]*>', r"![\2](\1)", text)
    text = text.replace("](../figures/", "](figures/").replace("](docs/", "](")
    return re.sub(r"\]\((?:\.\./)?CHANGELOG\.md\)", "](changelog.md)", text)


def landing_page(profile: str) -> str:
    """A picture, the headline result, the five chapters with one line each, then the other pages."""
    from photoz_nb import report
    record = report.load_record()
    chapters = "\n".join(f"{i}. [{CHAPTERS[name][0]}](notebooks/{name}): {CHAPTERS[name][1]}"
                          for i, name in enumerate(NOTEBOOKS, 1))
    pages = "\n".join(f"- [{name.replace('_', ' ').capitalize()}]({name}.md): {line}" for name, line in PAGES.items())
    return (f"# photoz-nb: photometric redshifts from galaxy images\n\n"
            "A convolutional network reads 64×64-pixel *ugriz* SDSS cutouts and returns a redshift PDF: a "
            "reproducible, notebook-driven re-analysis of Pasquet et al. 2019 (A&A 621, A26) on an embedded "
            f"simulation of SDSS. The notebooks below are shown as the `{profile}` run executed them.\n\n"
            "```{image} figures/readme/sdss_bright_galaxies.png\n:alt: five-band cutouts of real SDSS galaxies\n"
            ":width: 480px\n:align: center\n```\n\n"
            f"**The result.** {report.headline(record)}\n"
            f"## The tutorial, in five chapters\n\n{chapters}\n\n"
            f"## More\n\n{pages}\n- [Figures](figures.md): which figure of the paper each file regenerates, and "
            f"the `{profile}` run's figures\n- [README](readme.md), the repository's first page, and the "
            "[changelog](changelog.md)\n\n"
            "```{toctree}\n:hidden:\n:maxdepth: 1\n\n"
            + "\n".join([*[f"notebooks/{n}" for n in NOTEBOOKS], *PAGES, "figures", "readme", "changelog"]) + "\n```\n")


def stage(profile: str, src: Path) -> int:
    """Write the Sphinx source tree; returns the number of pages."""
    shutil.rmtree(src, ignore_errors=True)
    (src / "notebooks").mkdir(parents=True)
    for name in ("conf.py", "favicon.svg"):
        shutil.copy2(Path(__file__).with_name(name), src / name)
    (src / "readme.md").write_text(site_links((ROOT / "README.md").read_text()))
    (src / "changelog.md").write_text(site_links((ROOT / "CHANGELOG.md").read_text()))
    for name in PAGES:
        (src / f"{name}.md").write_text(site_links(Path(__file__).with_name(f"{name}.md").read_text()))
    shutil.copytree(ROOT / "figures" / "readme", src / "figures" / "readme", ignore=shutil.ignore_patterns("*.md"))
    (src / "figures.md").write_text(figure_index(profile, src))
    for path in executed_notebooks(profile):
        shutil.copy2(path, src / "notebooks" / path.name)
    (src / "index.md").write_text(landing_page(profile))
    return len(NOTEBOOKS) + len(PAGES) + 4


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="small")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "docs")
    args = parser.parse_args(argv)
    start = time.time()
    n_pages = stage(args.profile, args.out / "src")
    shutil.rmtree(args.out / "html", ignore_errors=True)  # no stale pages of an earlier build
    subprocess.run([sys.executable, "-m", "sphinx", "-b", "html", "-q", "-D", f"project=photoz-nb ({args.profile})",
                    str(args.out / "src"), str(args.out / "html")], check=True)
    print(f"{n_pages} pages in {args.out / 'html'} ({time.time() - start:.0f} s); open {args.out / 'html' / 'index.html'}")


if __name__ == "__main__":
    main()
