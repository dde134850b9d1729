"""Round trip of `photoz-nb predict` on real SDSS cutouts: frames -> cutouts -> FITS/.npy -> qp files.

Cuts the brightest extended sources of the shared SDSS fields with the real-data path
(:func:`photoz_nb.sdss.sources.bright_galaxy_stamps`), writes them as a labelled FITS cube (and a
channels-first .npy), runs the CLI on both with a trained model, and checks that the qp files
open with ``qp.read`` and hold point estimates equal to ours (and to each other).

    PHOTOZ_SHARED=../shared python scripts/userdata_roundtrip.py --model data/smoke/models/cnn --out /tmp/rt

The fields hold no spectroscopic galaxies and their SFD E(B-V) is not shipped: the catalogue
gives every source E(B-V) = 0.03 mag (``--ebv``), so the PDFs show the path, not a science result.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.table import Table

from photoz_nb import cli, config, pdf
from photoz_nb.sdss.sources import FIELDS, bright_galaxy_stamps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--per-field", type=int, default=6)
    ap.add_argument("--ebv", type=float, default=0.03)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    stamps, sources = bright_galaxy_stamps(fields=FIELDS, n_per_field=args.per_field)
    print(f"{len(stamps)} cutouts of {len(FIELDS)} real SDSS fields, shape {stamps.shape}")
    hdu = fits.PrimaryHDU(stamps)
    hdu.header["BANDS"], hdu.header["BUNIT"] = "u,g,r,i,z", "nanomaggy"
    hdu.writeto(args.out / "sdss_cutouts.fits", overwrite=True)
    np.save(args.out / "sdss_cutouts_nchw.npy", np.moveaxis(stamps, -1, 1))
    Table({"id": np.arange(len(stamps)), "ra": sources["ra"], "dec": sources["dec"],
           "ebv": np.full(len(stamps), args.ebv)}).write(args.out / "sdss_cutouts.csv", overwrite=True)
    results = {}
    for name, images in (("fits", "sdss_cutouts.fits"), ("npy", "sdss_cutouts_nchw.npy")):
        out = args.out / f"pz_{name}.hdf5"
        rc = cli.main(["predict", "--images", str(args.out / images), "--catalog", str(args.out / "sdss_cutouts.csv"),
                       "--model", str(args.model), "--out", str(out)])
        assert rc == 0, f"photoz-nb predict failed on {images}"
        results[name] = check(out)
    same = np.array_equal(results["fits"][0], results["npy"][0])
    print(f"FITS and .npy routes give identical PDFs: {same}")
    edges = config.redshift_edges()
    z_mean = pdf.point_estimate(results["fits"][0], edges, "mean")
    print("id  z_mean  z_median  z_mode  central68:")
    for i in range(len(z_mean)):
        a = results["fits"][1]
        print(f"{int(a['id'][i]):2d}  {a['z_mean'][i]:.4f}  {a['z_median'][i]:.4f}  {a['z_mode'][i]:.4f}  {a['central68'][i]:.4f}")


def check(path: Path):
    """qp.read opens the file; its ancil point estimates equal ours recomputed from its PDFs."""
    import qp
    ens = qp.read(str(path))
    pdfs, edges, ancil = pdf.from_qp(ens)
    worst = max(float(np.max(np.abs(ancil[f"z_{k}"] - pdf.point_estimate(pdfs, edges, k)))) for k in pdf.POINT_KINDS)
    qp_median = float(np.max(np.abs(ens.median().ravel() - ancil["z_median"])))
    print(f"{path}: qp.read -> {ens.npdf} PDFs ({type(ens.gen_obj).__name__}), |ancil - ours| <= {worst:.1e}, "
          f"|qp median - ours| <= {qp_median:.1e}")
    return pdfs, ancil


if __name__ == "__main__":
    main()
