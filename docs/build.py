"""Build the tutorial site: the README, the executed notebooks of a profile and the figure index, as static HTML.

    python docs/build.py [--profile small] [--out build/docs]

Stages ``<out>/src`` (this folder's conf.py, the README and its images, ``build/notebooks/<profile>/*.ipynb``
as written by ``photoz-nb reproduce``, the figure index with ``figures/<profile>/*.png``), then runs Sphinx
with myst-nb into ``<out>/html``.  Nothing is executed: the notebooks are shown as the run left them.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from photoz_nb.cli import NOTEBOOKS  # noqa: E402  (the notebooks, in reading order)


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


def stage(profile: str, src: Path) -> int:
    """Write the Sphinx source tree; returns the number of pages."""
    shutil.rmtree(src, ignore_errors=True)
    (src / "notebooks").mkdir(parents=True)
    for name in ("conf.py", "favicon.svg"):
        shutil.copy2(Path(__file__).with_name(name), src / name)
    shutil.copy2(ROOT / "README.md", src / "readme.md")
    shutil.copytree(ROOT / "figures" / "readme", src / "figures" / "readme", ignore=shutil.ignore_patterns("*.md"))
    (src / "figures.md").write_text(figure_index(profile, src))
    for path in executed_notebooks(profile):
        shutil.copy2(path, src / "notebooks" / path.name)
    pages = ["readme", *[f"notebooks/{name}" for name in NOTEBOOKS], "figures"]
    (src / "index.md").write_text(
        f"# photoz-nb tutorial\n\nCNN photometric redshifts from SDSS images (a re-analysis of Pasquet et al. 2019): "
        f"the README, then the five notebooks as executed by the `{profile}` run, then the figure index.\n\n"
        "```{toctree}\n:maxdepth: 1\n\n" + "\n".join(pages) + "\n```\n")
    return len(pages) + 1


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
