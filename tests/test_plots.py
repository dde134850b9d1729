"""Figure functions: content checked against independent computations, layout rules, saving.

Run with the Agg backend; nothing here opens a window.  To regenerate the image baseline
after an intended change of style: ``PHOTOZ_UPDATE_BASELINES=1 pytest tests/test_plots.py``.
"""
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from astropy.table import Table  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.testing.compare import compare_images  # noqa: E402
from matplotlib.testing.decorators import remove_ticks_and_titles  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from photoz_nb import config, metrics, plots  # noqa: E402

from conftest import make_catalog  # noqa: E402

BASELINE_DIR = Path(__file__).parent / "baseline"
RNG = np.random.default_rng(42)


# ------------------------------------------------------------------ helpers
def visible_texts(fig):
    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]


def assert_paper_layout(fig, width=plots.COLUMN_WIDTH):
    """Column width, fonts >= 8 pt, every grid row has a y label and every column an x label."""
    assert isinstance(fig, Figure)
    assert fig.get_size_inches()[0] == pytest.approx(width)
    small = [(t.get_text(), t.get_fontsize()) for t in visible_texts(fig) if t.get_fontsize() < 8]
    assert not small, f"text below 8 pt: {small}"
    grid = [ax for ax in fig.axes if ax.get_visible() and ax.get_subplotspec() is not None]
    for axis, span in (("x", "colspan"), ("y", "rowspan")):
        groups = {}
        for ax in grid:
            key = tuple(getattr(ax.get_subplotspec(), span))
            groups.setdefault(key, []).append(getattr(ax, f"get_{axis}label")())
        for key, labels in groups.items():
            assert any(label.strip() for label in labels), f"no {axis} label for grid {span} {key}"
    for ax in fig.axes:  # colour bars too
        if ax.get_subplotspec() is None:
            assert ax.get_ylabel() or ax.get_xlabel()


def assert_matches_baseline(fig, name, tmp_path):
    """``fig`` saved at 100 dpi equals ``tests/baseline/<name>.png`` (PHOTOZ_UPDATE_BASELINES=1 rewrites it)."""
    baseline, actual = BASELINE_DIR / f"{name}.png", tmp_path / f"{name}.png"
    with plots.paper_style():
        fig.savefig(actual, dpi=100)
    if os.environ.get("PHOTOZ_UPDATE_BASELINES"):
        BASELINE_DIR.mkdir(exist_ok=True)
        actual.replace(baseline)
        pytest.skip(f"baseline rewritten: {baseline}")
    assert baseline.exists(), f"{baseline} missing; create it with PHOTOZ_UPDATE_BASELINES=1"
    result = compare_images(str(baseline), str(actual), tol=2)
    assert result is None, result


def legends(fig):
    return [ax.get_legend() for ax in fig.axes if ax.get_legend()] + list(fig.legends)


def legend_texts(fig):
    return [t.get_text() for legend in legends(fig) for t in legend.get_texts()]


def hist_heights(polygon, n_bins):
    """Bar heights of a step/stepfilled histogram polygon (vertices up/across/down...)."""
    return polygon.get_xy()[1:2 * n_bins:2, 1]


def stairs(ax):
    from matplotlib.patches import StepPatch
    return {p.get_label(): p.get_data() for p in ax.patches if isinstance(p, StepPatch)}


def gaussian_pdfs(z_spec, edges, width=0.015, shift=0.0):
    centres = 0.5 * (edges[1:] + edges[:-1])
    p = np.exp(-0.5 * ((centres - z_spec[:, None] - shift) / width) ** 2)
    return (p / p.sum(axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture
def redshifts():
    z_spec = RNG.uniform(0.02, 0.35, 500)
    z_phot = z_spec + 0.01 * (1 + z_spec) * RNG.standard_normal(500)
    z_phot[:10] += 0.1  # guaranteed outliers
    return z_spec, z_phot


# ------------------------------------------------------------------ style and saving
def test_paper_style_sets_and_restores_rcparams():
    before = matplotlib.rcParams["savefig.dpi"]
    with plots.paper_style():
        assert matplotlib.rcParams["savefig.dpi"] == 200
        assert matplotlib.rcParams["font.size"] >= 8
    assert matplotlib.rcParams["savefig.dpi"] == before


def test_save_figure_writes_pdf_and_png_atomically(tmp_path, redshifts):
    fig = plots.pit_histogram(RNG.random(300))
    out = tmp_path / "new" / "dir"
    paths = plots.save_figure(fig, out, "pit_histogram")
    assert paths == [out / "pit_histogram.pdf", out / "pit_histogram.png"]
    assert paths[0].read_bytes().startswith(b"%PDF")
    png = paths[1].read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    width_px = int.from_bytes(png[16:20], "big")  # IHDR width at 200 dpi
    assert width_px == round(plots.COLUMN_WIDTH * 200)
    assert sorted(p.name for p in out.iterdir()) == ["pit_histogram.pdf", "pit_histogram.png"]
    first = paths[0].read_bytes()
    plots.save_figure(fig, out, "pit_histogram")  # overwrite: same bytes (no creation date)
    assert paths[0].read_bytes() == first


@pytest.mark.parametrize("name", ["", "a/b", "fig.png", "../x"])
def test_save_figure_rejects_bad_names(tmp_path, name):
    with pytest.raises(ValueError, match="figure name"):
        plots.save_figure(plots.pit_histogram(RNG.random(50)), tmp_path, name)


def test_save_figure_crash_keeps_old_files_and_no_temp(tmp_path, monkeypatch):
    fig = plots.pit_histogram(RNG.random(50))
    old = plots.save_figure(fig, tmp_path, "pit")
    old_png = old[1].read_bytes()
    real_savefig = fig.savefig

    def crash_on_png(fname, **kw):  # write half a file, then die, as a crash mid-render would
        if kw.get("format") == "png":
            Path(fname).write_bytes(b"\x89PNG half")
            raise OSError("disk full")
        return real_savefig(fname, **kw)

    monkeypatch.setattr(fig, "savefig", crash_on_png)
    with pytest.raises(OSError, match="disk full"):
        plots.save_figure(fig, tmp_path, "pit")
    assert old[1].read_bytes() == old_png  # the published PNG is untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pit.pdf", "pit.png"]


# ------------------------------------------------------------------ z_phot vs z_spec
def test_zphot_vs_zspec_metrics_box_matches_paper_definitions(redshifts):
    z_spec, z_phot = redshifts
    fig = plots.zphot_vs_zspec(z_spec, z_phot)
    assert_paper_layout(fig)
    dz = (z_phot - z_spec) / (1 + z_spec)  # independent of photoz_nb.metrics
    expected = [f"bias = {dz.mean():+.5f}", f"= {1.4826 * np.median(np.abs(dz - np.median(dz))):.5f}",
                f"= {100 * np.mean(np.abs(dz) > 0.05):.2f}%", "N = 500"]
    box = next(t.get_text() for t in visible_texts(fig) if "bias" in t.get_text())
    for piece in expected:
        assert piece in box
    assert plots.OUTLIER_DZ == metrics.OUTLIER_CUT
    assert {"1:1", r"$|\Delta z| = 0.05$"} <= set(legend_texts(fig))


def test_zphot_vs_zspec_envelope_and_histogram(redshifts):
    z_spec, z_phot = redshifts
    ax = plots.zphot_vs_zspec(z_spec, z_phot, n_cells=40).axes[0]
    envelope = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
    assert len(envelope) == 2
    for line in envelope:
        x, y = line.get_data()
        assert np.allclose(np.abs(y - x), 0.05 * (1 + x))
    mesh = ax.collections[0]
    inside = np.sum((z_phot >= 0) & (z_phot <= 0.4))
    assert mesh.get_array().sum() == inside  # every galaxy in the window is counted once


def test_zphot_vs_zspec_baseline_panel_shares_colour_scale(redshifts):
    z_spec, z_phot = redshifts
    fig = plots.zphot_vs_zspec(z_spec, z_phot, baseline=(z_spec + 0.02, "B16"))
    assert_paper_layout(fig, width=plots.TEXT_WIDTH)
    left, right = (ax for ax in fig.axes if ax.get_subplotspec() is not None)
    assert (left.get_title(), right.get_title()) == ("CNN", "B16")
    assert left.collections[0].norm is right.collections[0].norm
    assert any("bias = +0.0" in t.get_text() for t in right.texts)


def test_zphot_vs_zspec_input_errors(redshifts):
    z_spec, z_phot = redshifts
    with pytest.raises(ValueError, match="same length"):
        plots.zphot_vs_zspec(z_spec, z_phot[:-1])
    with pytest.raises(ValueError, match="same length"):
        plots.zphot_vs_zspec(z_spec, z_phot, baseline=(z_phot[:5], "B16"))
    bad = z_phot.copy()
    bad[3] = np.nan
    with pytest.raises(ValueError, match=r"z_phot has 1 NaN/inf value.*index 3"):
        plots.zphot_vs_zspec(z_spec, bad)


# ------------------------------------------------------------------ PIT
def test_pit_histogram_heights_and_poisson_band():
    pit, n_bins = RNG.random(800), 16
    fig = plots.pit_histogram(pit, others={"calibrated": RNG.random(800)}, n_bins=n_bins)
    assert_paper_layout(fig)
    ax = fig.axes[0]
    counts = np.histogram(pit, bins=np.linspace(0, 1, n_bins + 1))[0]
    main = next(p for p in ax.patches if p.get_label() == "CNN")
    assert np.allclose(hist_heights(main, n_bins), counts * n_bins / len(pit))
    sigma = np.sqrt(n_bins / len(pit))  # Poisson sigma of a uniform histogram, in density units
    for k in (1, 2):
        band = next(p for p in ax.patches if p.get_label() == rf"uniform $\pm{k}\sigma$")
        assert band.get_y() == pytest.approx(1 - k * sigma)
        assert band.get_height() == pytest.approx(2 * k * sigma)
    assert {"CNN", "calibrated", "uniform"} <= set(legend_texts(fig))


def test_pit_histogram_rejects_values_outside_unit_interval():
    with pytest.raises(ValueError, match=r"others\['cal'\] must lie in \[0, 1\]"):
        plots.pit_histogram(RNG.random(10), others={"cal": np.array([0.5, 1.2])})


def _baseline_pit_figure():
    """A deterministic PIT figure (closed-form inputs, no RNG) with text stripped for comparison."""
    n = 2000
    u = (np.arange(n) + 0.5) / n
    fig = plots.pit_histogram(u ** 1.3, others={"calibrated": u}, n_bins=20)
    remove_ticks_and_titles(fig)  # fonts differ across FreeType builds; graphics do not
    for ax in fig.axes:
        ax.set_xlabel("")
        ax.set_ylabel("")
        ax.get_legend().remove()
    return fig


def test_pit_histogram_matches_baseline_image(tmp_path):
    with plots.paper_style():
        assert_matches_baseline(_baseline_pit_figure(), "pit_histogram", tmp_path)


def test_coverage_plot_is_empirical_cdf():
    pits = {"CNN": RNG.beta(2, 2, 400), "calibrated": RNG.random(300)}
    fig = plots.coverage_plot(pits)
    assert_paper_layout(fig)
    top, bottom = fig.axes
    lines = {line.get_label(): line.get_data() for line in top.get_lines()}
    for name, pit in pits.items():
        q, ecdf = lines[name]
        assert np.allclose(ecdf, (pit[None, :] <= q[:, None]).mean(axis=1))
    q, ideal = lines["1:1 (calibrated)"]
    assert np.allclose(q, ideal)
    assert {"CNN", "calibrated"} <= set(legend_texts(fig))
    assert plots.coverage_plot(RNG.random(50)).axes[0].get_lines()  # a bare array works too


# ------------------------------------------------------------------ training
class FakeHistory:  # what keras.Model.fit returns
    def __init__(self, history):
        self.history = history


def test_learning_curves_plots_every_key():
    history = {"loss": [3.0, 2.0, 1.5, 1.2], "val_loss": [3.1, 2.4, 2.2, 2.3],
               "accuracy": [0.1, 0.2, 0.3, 0.4], "val_accuracy": [0.1, 0.15, 0.2, 0.2],
               "learning_rate": [1e-4, 1e-4, 2e-5, 2e-5]}
    fig = plots.learning_curves(FakeHistory(history))
    assert_paper_layout(fig)
    assert [ax.get_ylabel() for ax in fig.axes] == ["cross-entropy loss [nat]", "accuracy", "learning rate"]
    assert fig.axes[-1].get_xlabel() == "epoch"
    loss_lines = {line.get_label(): line.get_ydata() for line in fig.axes[0].get_lines()}
    assert np.allclose(loss_lines["training"], history["loss"])
    assert np.allclose(loss_lines["validation"], history["val_loss"])
    assert np.allclose(fig.axes[0].get_lines()[0].get_xdata(), [1, 2, 3, 4])
    assert "best (epoch 3)" in legend_texts(fig)
    assert fig.axes[2].get_yscale() == "log"


def test_learning_curves_input_errors():
    with pytest.raises(ValueError, match="missing \\['val_loss'\\]"):
        plots.learning_curves({"loss": [1, 2]})
    with pytest.raises(ValueError, match="same length"):
        plots.learning_curves({"loss": [1, 2, 3], "val_loss": [1, 2]})


# ------------------------------------------------------------------ data figures
@pytest.fixture
def cutout_data(tmp_path):
    n = 12
    cat = make_catalog(n, seed=3)
    yy, xx = np.mgrid[:64, :64] - 31.5
    blob = np.exp(-(xx ** 2 + yy ** 2) / 18.0)
    images = blob[None, :, :, None] * np.linspace(0.5, 2, 5) * 4 + RNG.normal(0, 0.02, (n, 64, 64, 5))
    np.save(tmp_path / "images.npy", images.astype(np.float32))
    return np.load(tmp_path / "images.npy", mmap_mode="r"), cat


def test_example_cutouts_grid_from_memmap(cutout_data):
    images, cat = cutout_data
    fig = plots.example_cutouts(images, cat, n=4, seed=1)
    assert fig.get_size_inches()[0] == pytest.approx(plots.COLUMN_WIDTH)
    assert not [t for t in visible_texts(fig) if t.get_fontsize() < 8]
    axes = np.array(fig.axes).reshape(4, 6)
    assert [ax.get_title() for ax in axes[0]] == ["u", "g", "r", "i", "z", "irg"]
    z_labels = [float(ax.get_ylabel().split("\n")[0].removeprefix("z=")) for ax in axes[:, 0]]
    assert z_labels == sorted(z_labels)  # rows in redshift order
    assert set(z_labels) <= {round(float(z), 3) for z in cat["z_spec"]}
    for r, ax in enumerate(axes[:, 2]):  # the r-band panel shows that galaxy's r image
        row = int(np.argmin(np.abs(np.asarray(cat["z_spec"]) - z_labels[r])))
        assert np.allclose(ax.images[0].get_array(), images[row, ..., 2])
    rgb = axes[0, 5].images[0].get_array()
    assert rgb.shape == (64, 64, 3) and rgb.dtype == np.uint8
    bar = axes[-1, -1].get_lines()[0].get_xdata()
    assert bar[1] - bar[0] == pytest.approx(10 / config.PIXEL_SCALE)  # 10 arcsec in pixels
    assert '10"' in [t.get_text() for t in axes[-1, -1].texts]
    again = plots.example_cutouts(images, cat, n=4, seed=1)  # same seed, same galaxies
    assert [ax.get_ylabel() for ax in again.axes[::6]] == [ax.get_ylabel() for ax in axes[:, 0]]


def test_example_cutouts_input_errors(cutout_data):
    images, cat = cutout_data
    with pytest.raises(ValueError, match=r"shape \(N, 64, 64, 5\).*\(12, 64, 64, 4\)"):
        plots.example_cutouts(np.zeros((12, 64, 64, 4)), cat)
    with pytest.raises(ValueError, match="same length"):
        plots.example_cutouts(images, cat[:5])
    with pytest.raises(ValueError, match="n must be between 1 and"):
        plots.example_cutouts(images, cat, n=13)
    cat.remove_column("petro_r")
    with pytest.raises(ValueError, match="petro_r"):
        plots.example_cutouts(images, cat)


def test_redshift_magnitude_distributions_per_split():
    cat = make_catalog(400, seed=5)
    fig = plots.redshift_magnitude_distributions(cat)
    assert_paper_layout(fig)
    ax_z, ax_r = fig.axes
    assert ax_r.get_xlabel() == "Petrosian r [mag]"
    counts = {s: int(np.sum(cat["split"] == s)) for s in ("train", "val", "test")}
    assert {f"{s} (N={k})" for s, k in counts.items()} <= set(legend_texts(fig))
    train = next(p for p in ax_z.patches if p.get_label().startswith("train"))
    heights = hist_heights(train, 40)
    assert np.sum(heights * 0.01) == pytest.approx(1.0)  # a density on [0, 0.4], 40 bins
    with pytest.raises(ValueError, match=r"split\(s\) \['calib'\] have no galaxy"):
        plots.redshift_magnitude_distributions(cat, splits=("train", "calib"))


# ------------------------------------------------------------------ binned metrics
def test_metric_vs_property_from_binned_metrics():
    n = 3000
    r_mag = RNG.uniform(14, 17.8, n)
    z_spec = RNG.uniform(0.02, 0.35, n)
    z_cnn = z_spec + 0.01 * (1 + z_spec) * RNG.standard_normal(n)
    z_b16 = z_spec + 0.014 * (1 + z_spec) * RNG.standard_normal(n)
    bins = np.linspace(14, 17.8, 6)
    tables = {"CNN": metrics.binned_metrics(r_mag, z_cnn, z_spec, bins, n_boot=20, seed=0),
              "B16": metrics.binned_metrics(r_mag, z_b16, z_spec, bins, n_boot=20, seed=0)}
    fig = plots.metric_vs_property(tables, "r [mag]")
    assert_paper_layout(fig)
    axes = fig.axes
    assert axes[-1].get_xlabel() == "r [mag]"
    assert [len(ax.containers) for ax in axes] == [2, 2, 2]  # one errorbar series per label
    assert set(legend_texts(fig)) == {"CNN", "B16"}
    # labels as long as the README's E(B-V) figure's: the legend must not cover the bias axis' scale ("1e-3")
    wide = plots.metric_vs_property({"CNN with E(B-V)": tables["CNN"], "CNN without E(B-V)": tables["B16"]}, "E(B-V) [mag]")
    canvas = FigureCanvasAgg(wide)
    canvas.draw()
    renderer, scale = canvas.get_renderer(), wide.axes[0].yaxis.get_offset_text()
    assert scale.get_text(), "the bias axis should carry its scale above it"
    assert not any(legend.get_window_extent(renderer).overlaps(scale.get_window_extent(renderer)) for legend in legends(wide))
    outliers = axes[2].containers[0].lines[0].get_ydata()
    assert np.allclose(outliers, 100 * np.asarray(tables["CNN"]["outlier_frac"]))  # percent
    sig = axes[1].containers[1].lines[0].get_ydata()
    assert np.allclose(sig, tables["B16"]["sigma_mad"])
    zero = [line for line in axes[0].get_lines() if np.all(np.asarray(line.get_ydata()) == 0)]
    assert zero, "bias panel needs a zero line"


def test_metric_vs_property_input_errors():
    table = Table({"lo": [0.0], "hi": [1.0], "centre": [0.5], "n": [10], "bias": [0.0], "bias_err": [0.1]})
    fig = plots.metric_vs_property(table, "b/a", stats=("bias",))  # one bare table, one stat
    assert len(fig.axes) == 1 and fig.axes[0].get_legend() is None
    with pytest.raises(ValueError, match=r"table 'CNN': missing column\(s\) \['sigma_mad'"):
        plots.metric_vs_property({"CNN": table}, "b/a")
    with pytest.raises(ValueError, match="stats must be chosen"):
        plots.metric_vs_property(table, "b/a", stats=("crps_median",))


# ------------------------------------------------------------------ PDFs
@pytest.fixture
def pdf_data():
    edges = config.redshift_edges()
    z_spec = RNG.uniform(0.03, 0.35, 300)
    return gaussian_pdfs(z_spec, edges), edges, z_spec


def test_pdf_examples_draw_chosen_pdfs(pdf_data):
    pdfs, edges, z_spec = pdf_data
    fig = plots.pdf_examples(pdfs, edges, z_spec, n=5, seed=2)
    assert_paper_layout(fig)
    shown = [ax for ax in fig.axes if ax.get_visible()]
    assert len(shown) == 5
    marked = []
    for ax in shown:
        density = stairs(ax)["PDF"].values
        z_true = ax.get_lines()[0].get_xdata()[0]
        row = int(np.argmin(np.abs(z_spec - z_true)))
        assert np.allclose(density, pdfs[row] / np.diff(edges), rtol=1e-5)
        lo, hi = ax.get_xlim()
        assert lo < z_true < hi
        marked.append(z_true)
    assert marked == sorted(marked)
    assert {"PDF", r"$z_\mathrm{spec}$"} <= set(legend_texts(fig))


def test_pdf_inputs_shape_errors(pdf_data):
    pdfs, edges, z_spec = pdf_data
    with pytest.raises(ValueError, match=r"pdfs must have shape \(N, 180\).*\(300, 179\)"):
        plots.pdf_examples(pdfs[:, 1:], edges, z_spec)
    with pytest.raises(ValueError, match="same length"):
        plots.stacked_nz(pdfs, edges, z_spec[:-1])
    with pytest.raises(ValueError, match="edges must increase"):
        plots.stacked_nz(pdfs, edges[::-1], z_spec)


def test_stacked_nz_against_true_histogram(pdf_data):
    pdfs, edges, z_spec = pdf_data
    shifted = gaussian_pdfs(z_spec, edges, shift=0.02)
    fig = plots.stacked_nz({"CNN": pdfs, "shifted": shifted}, edges, z_spec)
    assert_paper_layout(fig)
    top = fig.axes[0]
    drawn = stairs(top)
    width = np.diff(edges)
    assert np.allclose(drawn["CNN"][0], pdfs.mean(axis=0) / width, rtol=1e-5)
    assert np.allclose(drawn[r"true $z_\mathrm{spec}$"][0], np.histogram(z_spec, edges, density=True)[0])
    for values, *_ in drawn.values():
        assert np.sum(values * width) == pytest.approx(1.0, rel=1e-5)
    # the narrow unshifted PDFs follow the truth better than the shifted ones
    true = drawn[r"true $z_\mathrm{spec}$"][0]
    assert np.abs(drawn["CNN"][0] - true).sum() < np.abs(drawn["shifted"][0] - true).sum()
    assert {"CNN", "shifted"} <= set(legend_texts(fig))


# ------------------------------------------------------------------ architecture
def figure_legend_texts(fig):
    return [t.get_text() for legend in fig.legends for t in legend.get_texts()]


def assert_fonts_and_width(fig, width=plots.COLUMN_WIDTH):
    assert fig.get_size_inches()[0] == pytest.approx(width)
    small = [(t.get_text(), t.get_fontsize()) for t in visible_texts(fig) if t.get_fontsize() < 8]
    assert not small, f"text below 8 pt: {small}"


@pytest.fixture(scope="module")
def small_net():
    from photoz_nb.estimators.cnn import model
    return model.build_net_p(width=0.125, seed=0)


def expected_stage_shapes(width, use_ebv=True, n_bins=180):
    """Net_P's stage outputs from the paper's block sizes, independently of Keras."""
    from photoz_nb.estimators.cnn.model import DENSE_UNITS, FIRST_CONV_MAPS, INCEPTION_BLOCKS, scaled
    c = scaled(FIRST_CONV_MAPS, width)
    shapes = [(64, 64, 5), (64, 64, c), (32, 32, c)]
    side = 32
    for i, (s1, s2, with_5x5) in enumerate(INCEPTION_BLOCKS):
        if i in (2, 4):
            side //= 2
            shapes.append((side, side, c))
        c = (3 if with_5x5 else 2) * scaled(s2, width) + scaled(s1, width)
        shapes.append((side, side, c))
    flat = side * side * c
    shapes.append((flat,))
    if use_ebv:
        shapes.append((flat + 1,))
    units = scaled(DENSE_UNITS, width)
    return shapes + [(units,), (units,), (n_bins,)]


def test_architecture_stages_follow_net_p(small_net):
    from photoz_nb.estimators.cnn import model
    stages = plots.architecture_stages(small_net)
    main = [s for s in stages if s["name"] != "ebv"]
    assert [s["shape"] for s in main] == expected_stage_shapes(0.125)
    assert [s["kind"] for s in main].count("inception") == 5
    assert main[-6]["label"] == "inception (1\u00d71, 3\u00d73, pool)"  # the last block has no 5x5 branch
    assert main[1]["label"] == "conv 5\u00d75 + PReLU"
    # every stage's shape is a layer output listed by model.architecture
    assert {s["shape"] for s in stages} <= {shape for _, shape in model.architecture(small_net)}


def test_architecture_figure_boxes_and_readable_text(small_net):
    fig = plots.architecture(small_net)
    assert_fonts_and_width(fig)
    texts = {t.get_text() for t in visible_texts(fig)}
    shapes = expected_stage_shapes(0.125)
    assert {"\u00d7".join(map(str, s)) for s in shapes} <= texts  # each box carries its output shape
    assert "E(B$-$V)" in texts
    assert f"{small_net.count_params():,} weights" in next(t for t in texts if "weights" in t)
    from matplotlib.patches import FancyBboxPatch
    boxes = [p for p in fig.axes[0].patches if isinstance(p, FancyBboxPatch)]
    assert len(boxes) == len(shapes) + 1  # the stages plus the E(B-V) input
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    renderer = FigureCanvasAgg(fig).get_renderer()
    frame = fig.bbox
    extents = [t.get_window_extent(renderer) for t in visible_texts(fig)]
    for t, box in zip(visible_texts(fig), extents):  # nothing clipped by the figure edge
        assert frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1, t
    for i, a in enumerate(extents):  # no two texts overlap (stage names vs shapes in a box)
        for b in extents[i + 1:]:
            assert not a.overlaps(b), (a, b)


def test_architecture_without_ebv_and_bad_input():
    from photoz_nb.estimators.cnn import model
    net = model.build_net_p(width=0.0625, use_ebv=False, n_bins=30, seed=0)
    fig = plots.architecture(net, title="no E(B-V)")
    texts = {t.get_text() for t in visible_texts(fig)}
    assert "no E(B-V)" in texts and "E(B$-$V)" not in texts
    assert [s["shape"] for s in plots.architecture_stages(net)] == expected_stage_shapes(0.0625, False, 30)
    with pytest.raises(ValueError, match="built Keras model"):
        plots.architecture(object())


def _baseline_architecture_figure(net):
    fig = plots.architecture(net)
    for text in visible_texts(fig):  # fonts differ across FreeType builds; boxes and arrows do not
        text.set_visible(False)
    return fig


def test_architecture_matches_baseline_image(tmp_path, small_net):
    with plots.paper_style():
        assert_matches_baseline(_baseline_architecture_figure(small_net), "architecture", tmp_path)


# ------------------------------------------------------------------ training-set size
def size_table(sizes, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for n in sizes:
        z_spec = rng.uniform(0.02, 0.35, 400)
        z_phot = z_spec + 0.02 * (n / 1000) ** -0.2 * rng.standard_normal(400)
        rows.append(metrics.summary_row("CNN", n, z_phot, z_spec, crps=rng.uniform(0, 0.02, 400)))
    return metrics.summary_table(rows)


def test_metrics_vs_training_size_means_and_references():
    table = size_table([1000, 1000, 5000, 20000, 20000, 100000])
    knn = {"bias": 0.0, "sigma_mad": 0.013, "outlier_frac": 0.004, "n": 400}  # point_metrics style
    rf = metrics.summary_row("RF", 100000, [0.1, 0.2, 0.2], [0.1, 0.2, 0.35])  # summary-row style
    fig = plots.metrics_vs_training_size(table, {"kNN": knn, "RF": rf})
    assert_paper_layout(fig)
    assert [ax.get_ylabel() for ax in fig.axes] == [plots.SIZE_STATS[s] for s in ("sigma_mad", "outliers_pct", "crps")]
    assert fig.axes[-1].get_xlabel() == "training galaxies"
    assert all(ax.get_xscale() == "log" for ax in fig.axes)
    sizes = np.asarray(table["training_size"])
    for ax, stat in zip(fig.axes, ("sigma_mad", "outliers_pct", "crps")):
        lines = ax.get_lines()
        points, mean = lines[0], lines[1]
        assert np.allclose(points.get_ydata(), table[stat])
        expected = [np.mean(np.asarray(table[stat])[sizes == n]) for n in (1000, 5000, 20000, 100000)]
        assert np.allclose(mean.get_xdata(), [1000, 5000, 20000, 100000])
        assert np.allclose(mean.get_ydata(), expected)
    refs = {line.get_label(): line.get_ydata()[0] for line in fig.axes[1].get_lines()[2:]}
    assert refs == pytest.approx({"kNN": 0.4, "RF": 100 / 3})  # outlier_frac -> percent
    assert [line.get_label() for line in fig.axes[2].get_lines()[2:]] == []  # no CRPS: no line
    assert figure_legend_texts(fig) == ["CNN", "kNN", "RF"]


def test_metrics_vs_training_size_without_crps_and_errors():
    table = size_table([1000, 4000])
    table["crps"] = np.nan
    fig = plots.metrics_vs_training_size({"no E(B-V)": table})
    assert len(fig.axes) == 2  # the CRPS panel is dropped when no CRPS is known
    assert figure_legend_texts(fig) == ["no E(B-V)"]
    with pytest.raises(ValueError, match=r"reference 'kNN' lacks 'sigma_mad'"):
        plots.metrics_vs_training_size(table, {"kNN": {"outlier_frac": 0.01}})
    table.remove_column("crps")
    with pytest.raises(ValueError, match=r"rows 'CNN': missing column\(s\) \['crps'\]"):
        plots.metrics_vs_training_size(table)


# ------------------------------------------------------------------ PDF widths
def test_gaussian_median_abs_per_width_constant():
    from scipy import stats
    expected = stats.halfnorm.median() / (stats.norm.ppf(0.84) - stats.norm.ppf(0.16))
    assert plots.GAUSS_MEDIAN_ABS_PER_WIDTH == pytest.approx(expected, rel=1e-4)


def test_pdf_widths_histogram_and_calibrated_errors():
    from photoz_nb import pdf
    edges = config.redshift_edges()
    n = 3000
    rng = np.random.default_rng(7)
    z_spec = rng.uniform(0.05, 0.33, n)
    sigma = rng.uniform(0.006, 0.02, n)
    z_phot = z_spec + sigma * rng.standard_normal(n)  # z_spec drawn from N(z_phot, sigma): calibrated
    centres = 0.5 * (edges[1:] + edges[:-1])
    block = np.exp(-0.5 * ((centres - z_phot[:, None]) / sigma[:, None]) ** 2)
    widths = pdf.width(block / block.sum(axis=1, keepdims=True), edges)
    wide = widths * 2
    fig = plots.pdf_widths({"CNN": widths, "wide": wide}, z_phot={"CNN": z_phot, "wide": z_phot},
                           z_spec=z_spec, n_width_bins=5)
    assert_paper_layout(fig)
    top, bottom = fig.axes
    hist = next(p for p in top.patches if p.get_label().startswith("CNN"))
    bins = np.linspace(0, np.percentile(np.concatenate([widths, wide]), 99.5) * 1.05, 41)
    assert np.allclose(hist_heights(hist, 40), np.histogram(widths, bins, density=True)[0])
    assert f"CNN (median {np.median(widths):.3f})" in legend_texts(fig)
    lines = {line.get_label(): line for line in bottom.get_lines()}
    x, y = lines["CNN"].get_data()
    assert len(x) == 5
    assert np.allclose(y, plots.GAUSS_MEDIAN_ABS_PER_WIDTH * np.asarray(x), rtol=0.15)  # on the line
    _, y_wide = lines["wide"].get_data()
    assert np.allclose(y_wide, y)  # same errors, twice the width: below the line by 2
    assert {"CNN", "wide", "calibrated Gaussian"} <= set(legend_texts(fig))


def test_pdf_widths_single_panel_and_errors():
    w = RNG.uniform(0.01, 0.05, 200)
    fig = plots.pdf_widths(w, edges=np.linspace(0, 0.06, 13))
    assert_paper_layout(fig)
    assert len(fig.axes) == 1 and fig.axes[0].get_xlim() == (0, 0.06)
    with pytest.raises(ValueError, match="both z_phot and z_spec"):
        plots.pdf_widths(w, z_phot=w)
    with pytest.raises(ValueError, match=r"z_phot lacks method\(s\) \['B16'\]"):
        plots.pdf_widths({"CNN": w, "B16": w}, z_phot={"CNN": w}, z_spec=w)
    with pytest.raises(ValueError, match="same length"):
        plots.pdf_widths(w, z_phot=w[:-1], z_spec=w)
    with pytest.raises(ValueError, match="non-negative"):
        plots.pdf_widths(-w)


# ------------------------------------------------------------------ Stripe 82 depth
def depth_stats(scale, n, seed):
    rng = np.random.default_rng(seed)
    z_spec = rng.uniform(0.02, 0.35, n)
    z_phot = z_spec + scale * (1 + z_spec) * rng.standard_normal(n)
    values = metrics.point_metrics(z_phot, z_spec)
    errors = metrics.bootstrap(metrics.point_metrics, z_phot, z_spec, n_boot=20, seed=seed)
    return {**values, **{f"{k}_err": v for k, v in errors.items()}}


def test_stripe82_depth_points_and_error_bars():
    tables = {"CNN": {"normal": depth_stats(0.01, 600, 1), "stripe82": depth_stats(0.008, 200, 2)},
              "kNN": {"normal": depth_stats(0.014, 600, 3), "stripe82": depth_stats(0.013, 200, 4)}}
    fig = plots.stripe82_depth(tables)
    assert_paper_layout(fig)
    sig_ax, out_ax = fig.axes
    assert [t.get_text() for t in out_ax.get_xticklabels()] == ["CNN", "kNN"]
    for j, depth in enumerate(("normal", "stripe82")):
        sig = sig_ax.containers[j]
        assert np.allclose(sig.lines[0].get_ydata(), [tables[m][depth]["sigma_mad"] for m in ("CNN", "kNN")])
        out = out_ax.containers[j]
        assert np.allclose(out.lines[0].get_ydata(), [100 * tables[m][depth]["outlier_frac"] for m in ("CNN", "kNN")])
        segments = sig.lines[2][0].get_segments()  # error bar of each method: value -+ err
        for seg, m in zip(segments, ("CNN", "kNN")):
            assert np.ptp(seg[:, 1]) == pytest.approx(2 * tables[m][depth]["sigma_mad_err"])
    assert figure_legend_texts(fig) == ["normal depth (N=600)", "Stripe 82 (N=200)"]


def test_stripe82_depth_input_errors():
    good = {"bias": 0.0, "sigma_mad": 0.01, "outlier_frac": 0.01}  # no _err: no error bars
    fig = plots.stripe82_depth({"CNN": {"normal": good, "stripe82": good}}, stats=("bias",))
    assert len(fig.axes) == 1 and figure_legend_texts(fig) == ["normal depth", "Stripe 82"]
    with pytest.raises(ValueError, match=r"tables\['CNN'\] must have exactly the keys"):
        plots.stripe82_depth({"CNN": {"normal": good}})
    with pytest.raises(ValueError, match=r"tables\['CNN'\]\['stripe82'\] lacks \['sigma_mad'\]"):
        plots.stripe82_depth({"CNN": {"normal": good, "stripe82": {"outlier_frac": 0.1}}})
    with pytest.raises(ValueError, match="stats must be chosen"):
        plots.stripe82_depth({"CNN": {"normal": good, "stripe82": good}}, stats=("crps",))


# ------------------------------------------------------------------ image comparisons of more figures
def _closed_form_sample(n=2000):
    """Deterministic redshifts, estimates with a smooth error pattern, and Gaussian PDFs around them."""
    z_spec = np.linspace(0.02, 0.38, n)
    z_phot = z_spec + 0.015 * np.sin(40 * z_spec) + 0.002
    edges = config.redshift_edges()
    sigma = 0.01 + 0.02 * (np.arange(n) % 7) / 7
    from scipy.special import erf
    cdf = 0.5 * (1 + erf((edges[None, :] - z_phot[:, None]) / (np.sqrt(2) * sigma[:, None])))
    pdfs = np.diff(cdf, axis=1)
    return z_spec, z_phot, edges, pdfs / pdfs.sum(axis=1, keepdims=True), sigma


def _figure_for_baseline(name):
    z_spec, z_phot, edges, pdfs, sigma = _closed_form_sample()
    u = (np.arange(2000) + 0.5) / 2000
    if name == "coverage_plot":
        return plots.coverage_plot({"CNN": u ** 1.3, "calibrated": u})
    if name == "zphot_vs_zspec":
        return plots.zphot_vs_zspec(z_spec, z_phot, baseline=(z_spec + 0.01 * np.cos(30 * z_spec), "kNN"))
    if name == "stacked_nz":
        return plots.stacked_nz(pdfs, edges, z_spec)
    if name == "metric_vs_property":
        table = metrics.binned_metrics(sigma, z_phot, z_spec, 5, seed=0)
        return plots.metric_vs_property({"CNN": table}, "PDF width [redshift]")
    if name == "pdf_widths":
        return plots.pdf_widths({"CNN": 2 * sigma}, edges, z_phot=z_phot, z_spec=z_spec)
    raise KeyError(name)


@pytest.mark.parametrize("name", ["coverage_plot", "zphot_vs_zspec", "stacked_nz", "metric_vs_property",
                                  "pdf_widths"])
def test_figure_matches_baseline_image(name, tmp_path):
    """Graphics (not text: fonts differ across FreeType builds) equal the committed baseline."""
    with plots.paper_style():
        fig = _figure_for_baseline(name)
        remove_ticks_and_titles(fig)
        for text in visible_texts(fig):
            text.set_visible(False)
        assert_matches_baseline(fig, name, tmp_path)


# ------------------------------------------------------------------ teaching figures of the notebooks
def _stamps():
    yy, xx = np.mgrid[:64, :64] - 31.5
    image = np.exp(-(xx ** 2 + yy ** 2) / 30.0)[..., None] * np.linspace(1, 3, 5) + RNG.normal(0, 0.03, (64, 64, 5))
    psf = np.exp(-(xx ** 2 + yy ** 2) / 4.0)[..., None] * np.ones(5)
    noise = RNG.normal(0, 1, (64, 64, 5)) * np.array([0.04, 0.015, 0.02, 0.03, 0.15])
    return image, psf / psf.sum(axis=(0, 1)), noise


def test_galaxy_anatomy_rows_bands_and_noise_labels():
    image, psf, noise = _stamps()
    fig = plots.galaxy_anatomy(image, psf, noise, psf_fwhm=np.full(5, 1.2), extinction=np.arange(5) / 10)
    assert_paper_layout(fig, width=plots.TEXT_WIDTH)
    panels = np.array([ax for ax in fig.axes if ax.get_subplotspec() is not None]).reshape(3, 5)
    for b in range(5):
        assert np.allclose(panels[0, b].images[0].get_array(), image[..., b])
        assert np.allclose(panels[2, b].images[0].get_array(), noise[..., b])
        expected = f"$\\sigma$={metrics.sigma_mad(noise[..., b].ravel()):.3f}"
        assert [t.get_text() for t in panels[2, b].texts] == [expected]
    assert panels[0, 0].get_title() == 'u\nA=0.00 mag\nFWHM 1.20"'
    assert panels[0, 0].images[0].norm is panels[0, 4].images[0].norm  # one scale per row: bands compare
    bars = [ax.get_ylabel() for ax in fig.axes if ax.get_subplotspec() is None]
    assert bars == ["flux [nmgy/pixel]", "flux fraction/pixel", "noise [nmgy/pixel]"]
    with pytest.raises(ValueError, match=r"psf must have shape \(64, 64, 5\)"):
        plots.galaxy_anatomy(image, psf[..., :4], noise)
    with pytest.raises(ValueError, match="extinction must have one value per band"):
        plots.galaxy_anatomy(image, psf, noise, extinction=[0.1])


def test_pixel_stretch_draws_the_function_and_both_images():
    from photoz_nb.estimators.cnn.train import stretch
    image = _stamps()[0][..., 2] * 20
    fig = plots.pixel_stretch(image, stretch(image))
    assert_paper_layout(fig)
    curve = fig.axes[0].get_lines()[0]
    x, y = curve.get_data()
    assert np.allclose(y, np.sign(x) * (np.sqrt(np.abs(x) + 1) - 1), atol=1e-6)  # the paper's stretch
    assert np.allclose(fig.axes[2].images[0].get_array(), image)
    assert np.allclose(fig.axes[3].images[0].get_array(), stretch(image))
    with pytest.raises(ValueError, match=r"\(64, 64\) images"):
        plots.pixel_stretch(image[:10], image[:10])


def test_dihedral_views_shows_each_view_with_its_label():
    from photoz_nb import tutorial
    from photoz_nb.estimators.cnn.train import dihedral
    image = np.zeros((64, 64, 5), np.float32)
    image[10:20, 40:60] = 1  # an asymmetric bar: every view differs
    views = dihedral(np.repeat(image[None], 8, axis=0), np.arange(8))[..., 2]
    fig = plots.dihedral_views(views, tutorial.DIHEDRAL_LABELS)
    assert_paper_layout(fig, width=plots.TEXT_WIDTH)
    assert [ax.get_title() for ax in fig.axes] == list(tutorial.DIHEDRAL_LABELS)
    shown = [ax.images[0].get_array() for ax in fig.axes]
    assert all(np.array_equal(s, v) for s, v in zip(shown, views))
    assert len({s.tobytes() for s in shown}) == 8
    with pytest.raises(ValueError, match="need 8 labels"):
        plots.dihedral_views(views, ["a"])


def test_pdf_gallery_interval_and_estimates():
    from photoz_nb import pdf
    edges = config.redshift_edges()
    z_spec = np.array([0.1, 0.2])
    block = gaussian_pdfs(z_spec, edges, width=0.02, shift=0.01)
    fig = plots.pdf_gallery(block, edges, z_spec, ["narrow", "broad"])
    assert_paper_layout(fig)
    for k, ax in enumerate(fig.axes):
        assert ax.get_title() == ["narrow", "broad"][k]
        band = ax.patches[0]  # the shaded central 68%
        lo, hi = band.get_x(), band.get_x() + band.get_width()
        assert (lo, hi) == pytest.approx(tuple(pdf.quantile(block[k:k + 1], edges, [0.16, 0.84])[0]))
        lines = {line.get_label(): line.get_xdata()[0] for line in ax.get_lines()}
        assert lines[r"$z_\mathrm{spec}$"] == z_spec[k]
        assert lines[r"$z_\mathrm{phot}$ (mean)"] == pytest.approx(pdf.point_estimate(block[k:k + 1], edges)[0])
    with pytest.raises(ValueError, match="2 titles for 1 PDFs|1 titles for 2 PDFs"):
        plots.pdf_gallery(block, edges, z_spec, ["one"])


def test_pit_crps_illustration_reports_the_package_values():
    from photoz_nb import pdf
    edges = config.redshift_edges()
    block = gaussian_pdfs(np.array([0.2]), edges, width=0.02)
    fig = plots.pit_crps_illustration(block[0], edges, 0.215)
    assert_paper_layout(fig)
    texts = " ".join(t.get_text() for t in visible_texts(fig))
    assert f"= {pdf.pit(block, edges, [0.215])[0]:.2f}" in texts
    assert f"= {pdf.crps(block, edges, [0.215])[0]:.4f}" in texts
    cdf_line = next(line for line in fig.axes[1].get_lines() if line.get_label().startswith("CDF"))
    assert np.allclose(cdf_line.get_ydata(), pdf.edge_cdf(block)[0])  # piecewise linear through the edges
    # The shaded area's integral of the squared gap is the CRPS (to the resolution of the drawing grid).
    fine, f = next(line for line in fig.axes[2].get_lines() if line.get_label() == "F(z)").get_data()
    gap2 = (f - (fine >= 0.215)) ** 2
    assert np.trapezoid(gap2, fine) == pytest.approx(pdf.crps(block, edges, [0.215])[0], rel=0.02)


def test_calibration_maps_draws_maps_and_pdfs():
    edges = config.redshift_edges()
    before = gaussian_pdfs(np.array([0.2]), edges, width=0.01)[0]
    after = gaussian_pdfs(np.array([0.2]), edges, width=0.02)[0]
    x = np.linspace(0, 1, 11)
    fig = plots.calibration_maps({"global": (x, x ** 2)}, {"uncalibrated": before, "remapped": after}, edges, 0.21)
    assert_paper_layout(fig)
    maps, pdfs = fig.axes
    assert np.allclose(maps.get_lines()[1].get_ydata(), x ** 2)
    assert set(legend_texts(fig)) >= {"global", "uncalibrated", "remapped", "identity (no change)"}
    assert np.allclose(stairs(pdfs)["remapped"][0], after / np.diff(edges))
    with pytest.raises(ValueError, match="increasing"):
        plots.calibration_maps({"bad": (x[::-1], x)}, {"u": before}, edges, 0.2)


def test_pit_shapes_one_panel_per_case():
    from photoz_nb import tutorial
    pits = tutorial.synthetic_pits(n=500, seed=1)
    fig = plots.pit_shapes(pits)
    assert_paper_layout(fig)
    assert [ax.get_title() for ax in fig.axes] == list(pits)
    first = fig.axes[0].patches[0]
    counts = np.histogram(pits["calibrated"], np.linspace(0, 1, 21))[0]
    assert np.allclose(hist_heights(first, 20), counts * 20 / 500)


def test_inception_block_branches_and_output_count():
    fig = plots.inception_block(64, 92, size=32)
    assert fig.get_size_inches()[0] == pytest.approx(plots.COLUMN_WIDTH)
    texts = [t.get_text() for t in visible_texts(fig)]
    assert not [t for t in visible_texts(fig) if t.get_fontsize() < 8]
    assert texts.count("1\u00d71 conv\n64 maps") == 3 and "1\u00d71 conv\n92 maps" in texts
    assert {"5\u00d75 conv\n92 maps", "3\u00d73 conv\n92 maps"} <= set(texts)
    assert "concatenate: 32\u00d732\u00d7340 maps\n(3 \u00d7 92 + 64)" in texts  # Net_P's second block: 340 maps
    last = [t.get_text() for t in visible_texts(plots.inception_block(92, 128, with_5x5=False))]
    assert not any("5\u00d75" in t for t in last) and "concatenate: 348 maps\n(2 \u00d7 128 + 92)" in last
    with pytest.raises(ValueError, match="positive"):
        plots.inception_block(0, 10)


# ------------------------------------------------------------------ figures fit for a referee (issue 31, deliverable 6)
def _psf_panels():
    rng = np.random.default_rng(3)
    fields = {f"00{k}510-4-0030": rng.normal(1.2, 0.1, (20, 5)) for k in range(3)}
    return {"Moffat core": (rng.normal(1.2, 0.15, (150, 5)), fields),
            "effective": (rng.normal(1.6, 0.2, (150, 5)), fields)}


def test_realism_psf_fwhm_axis_labels_do_not_overlap():
    """The stacked panels' y labels stay apart: one line per label ran past its panel into the next."""
    fig = plots.realism_psf_fwhm(_psf_panels())
    assert_paper_layout(fig)
    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    boxes = [ax.yaxis.label.get_window_extent(renderer) for ax in fig.axes]
    assert len(boxes) == 2 and all(b.height > 0 for b in boxes)
    assert not boxes[0].overlaps(boxes[1]), (boxes[0], boxes[1])
    for ax, box in zip(fig.axes, boxes):  # each label within the height of its own panel
        panel = ax.get_window_extent(renderer)
        assert panel.y0 - 1 <= box.y0 and box.y1 <= panel.y1 + 1, (ax.get_ylabel(), box, panel)


def test_pit_histogram_bars_leave_the_uniform_bands_visible():
    """A filled bar is drawn under the +-1/2 sigma bands (lower z-order) and light; outlines go on top."""
    fig = plots.pit_histogram(RNG.random(500), others={"RF": RNG.random(500)})
    ax = fig.axes[0]
    bands = [p for p in ax.patches if str(p.get_label()).startswith("uniform")]
    filled = [p for p in ax.patches if p.get_fill() and not str(p.get_label()).startswith("uniform")]
    assert len(bands) == 2 and filled
    for patch in filled:
        assert patch.get_zorder() < min(b.get_zorder() for b in bands)
        assert patch.get_alpha() is not None and patch.get_alpha() <= 0.3
    outline = next(p for p in ax.patches if p.get_label() == "CNN")
    assert not outline.get_fill() and outline.get_zorder() > max(b.get_zorder() for b in bands)


def test_ebv_bins_resolve_the_high_reddening_tail():
    """E(B-V) has a long tail (a lognormal like the MGS's): six equal-count bins start their last bin near 0.05 and
    plot it at 0.06; the study's bins put edges above 0.06 and keep >= 40 galaxies in every bin."""
    from photoz_nb import pipeline
    ebv = 0.025 * np.exp(0.75 * np.random.default_rng(0).standard_normal(2000))
    z = np.full(len(ebv), 0.1)
    table = metrics.binned_metrics(ebv, z + 0.01 * np.random.default_rng(1).standard_normal(len(ebv)), z,
                                   pipeline.tail_resolving_edges(ebv) if callable(pipeline.PROPERTIES["ebv"][1])
                                   else pipeline.PROPERTIES["ebv"][1])
    assert np.all(table["n"] >= 40), list(table["n"])
    tail = table[table["lo"] > 0.06]
    assert len(tail) >= 1 and np.all(tail["n"] >= 40)
    assert table["centre"].max() > 0.09  # the last point sits in the tail, not at 0.06
    assert np.all(np.isfinite(table["bias_err"]))


def test_tail_resolving_edges_merges_sparse_bins_and_errors():
    from photoz_nb import pipeline
    values = np.concatenate([np.linspace(0.01, 0.04, 300), [0.3]])  # one lone value far out: merged, not a bin
    edges = pipeline.tail_resolving_edges(values, min_count=20)
    assert edges[-1] == pytest.approx(0.3) and np.all(np.diff(edges) > 0)
    assert np.all(np.histogram(values, edges)[0] >= 20)
    few = pipeline.tail_resolving_edges(values[:50])  # too few for a tail of its own: equal-count bins
    assert np.allclose(few, np.quantile(values[:50], np.linspace(0, 1, 6)))


def test_zphot_figure_compares_the_cnn_with_the_best_baseline(redshifts):
    """The right panel is the photometry-only method with the lowest sigma_MAD (RF), not the first one listed (kNN)."""
    from photoz_nb import pipeline
    z_spec, z_phot = redshifts
    rng = np.random.default_rng(5)
    zp = {"CNN": z_phot, "kNN": z_spec + 0.03 * (1 + z_spec) * rng.standard_normal(len(z_spec)),
          "RF": z_spec + 0.015 * (1 + z_spec) * rng.standard_normal(len(z_spec))}
    best = pipeline.best_baseline(zp, z_spec)
    assert best == "RF"
    fig = plots.zphot_vs_zspec(z_spec, zp["CNN"], baseline=(zp[best], best))
    assert [ax.get_title() for ax in fig.axes if ax.get_subplotspec()] == ["CNN", "RF"]
    with pytest.raises(ValueError, match="no baseline"):
        pipeline.best_baseline({"CNN": z_phot}, z_spec)


def test_every_figure_has_a_caption_defining_its_bands_and_error_bars(tmp_path):
    """figures/README.md gives, for every figure, what each band, whisker and error bar is."""
    from photoz_nb import pipeline
    for index, captions in ((pipeline.FIGURE_INDEX, pipeline.FIGURE_CAPTIONS),
                            (pipeline.DATA_FIGURE_INDEX, pipeline.DATA_FIGURE_CAPTIONS)):
        assert set(captions) == set(index)
    drawn_with = {"error bar": ("stripe82_depth", *[n for n in pipeline.FIGURE_INDEX if n.startswith("metrics_vs_")
                                                    and n != "metrics_vs_training_size"]),
                  "band": ("pit_histogram", "stacked_nz", "galaxy_and_pdf", "realism_colour_redshift"),
                  "whisker": ("realism_sky_noise", "realism_psf_fwhm")}
    captions = {**pipeline.FIGURE_CAPTIONS, **pipeline.DATA_FIGURE_CAPTIONS}
    for word, names in drawn_with.items():
        for name in names:
            assert word in captions[name].lower(), (name, word)
    assert "bootstrap" in captions["metrics_vs_ebv"] and "1.5" in captions["metrics_vs_ebv"]
    assert "σ" in captions["pit_histogram"] and "sqrt(20/N)" in captions["pit_histogram"]
    pipeline.write_figure_index(tmp_path / "README.md")
    written = (tmp_path / "README.md").read_text()
    assert all(c in written for c in captions.values())
    committed = (Path(__file__).parents[1] / "figures" / "README.md").read_text()
    assert committed == written, "figures/README.md is stale: rewrite it with pipeline.write_figure_index"


# ------------------------------------------------------------------ the README's picture and the outlier gallery
def _galaxy_stamp():
    yy, xx = np.mgrid[:64, :64] - 31.5
    return (np.exp(-(xx ** 2 + 0.5 * yy ** 2) / 20.0)[..., None] * np.array([0.2, 1, 2, 3, 3.5])
            + np.random.default_rng(2).normal(0, 0.03, (64, 64, 5)))


def test_galaxy_and_pdf_shows_five_bands_a_colour_image_and_the_pdf():
    edges = config.redshift_edges()
    pdf_row = gaussian_pdfs(np.array([0.12]), edges, width=0.01)[0]
    fig = plots.galaxy_and_pdf(_galaxy_stamp(), pdf_row, edges, 0.11, petro_r=16.9)
    assert fig.get_size_inches()[0] == pytest.approx(plots.TEXT_WIDTH)  # readable at README width
    assert not [t for t in visible_texts(fig) if t.get_fontsize() < 8]
    images, pdf_ax = fig.axes[:6], fig.axes[6]
    assert [ax.get_title() for ax in images] == ["u", "g", "r", "i", "z", "i, r, g colour"]
    assert all(len(ax.images) == 1 for ax in images)
    assert images[5].images[0].get_array().shape == (64, 64, 3)
    assert pdf_ax.get_xlabel() == "redshift z" and "p(z)" in pdf_ax.get_ylabel()
    density = stairs(pdf_ax)["CNN PDF"][0]
    assert np.allclose(density, pdf_row / np.diff(edges))
    truth = [ln for ln in pdf_ax.get_lines() if "z_\\mathrm{spec}" in ln.get_label()]
    assert len(truth) == 1 and truth[0].get_xdata()[0] == pytest.approx(0.11)
    assert "0.110" in pdf_ax.get_title() and "16.9" in pdf_ax.get_title()
    lo, hi = pdf_ax.get_xlim()
    assert lo < 0.11 < hi and hi - lo < 0.2  # zoomed on the PDF and the truth


def test_outlier_gallery_rows_and_input_errors():
    edges = config.redshift_edges()
    z = np.array([0.05, 0.3, 0.2])
    pdfs = gaussian_pdfs(np.array([0.2, 0.1, 0.05]), edges)
    stamps = np.stack([_galaxy_stamp()] * 3)
    fig = plots.outlier_gallery(stamps, pdfs, edges, z, titles=["a", "b", "c"])
    assert len(fig.axes) == 3 * 7
    pdf_axes = fig.axes[6::7]
    assert [ax.get_title() for ax in pdf_axes] == ["a", "b", "c"]
    for ax, zs in zip(pdf_axes, z):
        assert any(ln.get_xdata()[0] == pytest.approx(zs) for ln in ax.get_lines())
    assert pdf_axes[-1].get_xlabel() == "redshift z"
    assert fig.legends and "central 68%" in [t.get_text() for t in fig.legends[0].get_texts()]
    with pytest.raises(ValueError, match="got 2 stamps for 3 PDFs"):
        plots.outlier_gallery(stamps[:2], pdfs, edges, z)
    with pytest.raises(ValueError, match="got 1 titles for 3 PDFs"):
        plots.outlier_gallery(stamps, pdfs, edges, z, titles=["a"])
