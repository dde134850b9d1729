"""Net_P drawn: its stages and an inception block."""
from __future__ import annotations

from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from .style import COLUMN_WIDTH, paper_style

# --------------------------------------------------------------------------- architecture
#: Fill colour of each kind of stage in :func:`architecture` (light tints of ``COLOURS``).
_STAGE_FILL = {"input": "0.88", "conv": "#CCE3F0", "pool": "#CCEBE2", "inception": "#FBE2CC",
               "flatten": "0.93", "concat": "0.93", "dense": "#F0DDE8", "output": "#F5D6C4"}


def _stage_key(name: str) -> str:
    """The stage a layer belongs to: its inception block, the conv its PReLU follows, the E(B-V)
    input its scaling follows, else itself."""
    if name.startswith("inception") and "_" in name:
        return name.split("_", 1)[0]
    return name.removesuffix("_prelu").removesuffix("_scaled")


def _shape_text(shape) -> str:
    return "\u00d7".join(str(int(s)) for s in shape)


def _describe_stage(layers_in_stage) -> tuple[str, str]:
    """(kind, label) of one stage from its Keras layers (type names and hyper-parameters only)."""
    kinds = [layer.__class__.__name__ for layer in layers_in_stage]
    first = layers_in_stage[0]
    if len(layers_in_stage) > 3 and "Concatenate" in kinds:
        kernels = sorted({int(layer.kernel_size[0]) for layer in layers_in_stage
                          if layer.__class__.__name__ == "Conv2D"})
        branches = ", ".join(f"{k}\u00d7{k}" for k in kernels) + (", pool" if "AveragePooling2D" in kinds else "")
        return "inception", f"inception ({branches})"
    if kinds[0] == "InputLayer":
        shape = tuple(first.output.shape[1:])
        return "input", "input image" if len(shape) == 3 else f"input {first.name.replace('ebv', 'E(B$-$V)')}"
    if kinds[0] == "Conv2D":
        k = int(first.kernel_size[0])
        act = " + PReLU" if "PReLU" in kinds else ""
        return "conv", f"conv {k}\u00d7{k}{act}"
    if kinds[0] in ("AveragePooling2D", "MaxPooling2D"):
        k = int(first.pool_size[0])
        return "pool", f"{'avg' if kinds[0].startswith('Average') else 'max'}-pool {k}\u00d7{k}"
    if kinds[0] == "Flatten":
        return "flatten", "flatten"
    if kinds[0] == "Concatenate":
        return "concat", "concatenate E(B$-$V)" if "ebv" in first.name else "concatenate"
    if kinds[0] == "Dense":
        act = getattr(first.activation, "__name__", str(first.activation))
        if act == "softmax":
            return "output", "dense + softmax: p(z)"
        return "dense", "dense" + ("" if act == "linear" else f" + {'ReLU' if act == 'relu' else act}")
    return "conv", f"{first.name} ({kinds[0]})"


def architecture_stages(model) -> list[dict]:
    """The stages drawn by :func:`architecture`, in order: ``name``, ``kind``, ``label``, ``shape``.

    Layers are grouped into stages by name (Net_P's naming, see :mod:`photoz_nb.estimators.cnn.model`):
    every ``inceptionN_*`` layer is one stage, ``X_prelu`` joins ``X``; any other layer is
    its own stage.  ``shape`` is the output shape (without the batch axis) of the last layer
    of the stage, i.e. an inception block's concatenated maps.
    """
    groups: dict[str, list] = {}
    for layer in model.layers:
        groups.setdefault(_stage_key(layer.name), []).append(layer)
    stages = []
    for name, members in groups.items():
        kind, label = _describe_stage(members)
        stages.append({"name": name, "kind": kind, "label": label,
                       "shape": tuple(int(s) for s in members[-1].output.shape[1:])})
    return stages


def _box(ax, x, y, width, height, kind, left, right=None):

    ax.add_patch(FancyBboxPatch((x, y - height / 2), width, height, boxstyle="round,pad=0,rounding_size=0.04",
                                fc=_STAGE_FILL[kind], ec="0.35", lw=0.6))
    ax.text(x + 0.03, y, left, ha="left", va="center")
    if right is not None:
        ax.text(x + width - 0.03, y, right, ha="right", va="center", family="DejaVu Sans Mono")


def _arrow(ax, start, end):

    ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=7, color="0.3", lw=0.8,
                                 shrinkA=0, shrinkB=0))


def architecture(model, title: str | None = None) -> Figure:
    """Schematic of a Net_P-like Keras model: one box per stage, top to bottom, with its output shape.

    Side inputs (E(B-V)) are drawn to the right of the stage that concatenates them.  Box
    geometry depends only on the number of stages, never on text widths.

    Parameters
    ----------
    model : keras.Model
        e.g. ``photoz_nb.estimators.cnn.model.build_net_p(width=0.25)``; any width or ``use_ebv`` works.
    title : str, optional
        Defaults to the model name and its number of weights.
    """
    if not hasattr(model, "layers") or not model.layers:
        raise ValueError(f"architecture needs a built Keras model with layers, got {type(model).__name__}")
    stages = architecture_stages(model)
    side = [s for s in stages[1:] if s["kind"] == "input"]  # extra inputs feed a later concat
    main = [s for s in stages if s not in side]
    row, box_h, main_w = 0.36, 0.26, 2.65  # inches
    height = row * (len(main) + 1.6)
    if title is None:
        title = f"{model.name}: {model.count_params():,} weights"
    with paper_style():
        # One axes filling the figure, in inch units: boxes keep their size whatever the text.
        fig = Figure(figsize=(COLUMN_WIDTH, height))
        ax = fig.add_axes((0, 0, 1, 1))
        ax.set_axis_off()
        ax.set(xlim=(0, COLUMN_WIDTH), ylim=(0, height))
        ax.text(COLUMN_WIDTH / 2, height - 0.12, title, ha="center", va="top")
        y_of = {}
        for i, stage in enumerate(main):
            y = row * (len(main) - i)
            y_of[stage["name"]] = y
            _box(ax, 0.05, y, main_w, box_h, stage["kind"], stage["label"], _shape_text(stage["shape"]))
            if i:
                _arrow(ax, (0.05 + main_w / 2, y + row - box_h / 2), (0.05 + main_w / 2, y + box_h / 2))
        header_y = row * (len(main) + 0.7)
        ax.text(0.08, header_y, "stage", ha="left", va="center", style="italic")
        ax.text(0.02 + main_w, header_y, "output shape", ha="right", va="center", style="italic")
        concat_y = next((y_of[s["name"]] for s in main if s["kind"] == "concat"), None)
        for j, stage in enumerate(side):
            y = (concat_y if concat_y is not None else row) - j * row
            x = 0.05 + main_w + 0.15
            _box(ax, x, y, COLUMN_WIDTH - 0.05 - x, box_h, "input", stage["label"].removeprefix("input "))
            _arrow(ax, (x, y), (0.05 + main_w, y))
    return fig

def inception_block(s1: int, s2: int, with_5x5: bool = True, size: int | None = None) -> Figure:
    """Schematic of one Net_P inception block (s1, s2): its parallel branches and their concatenation.

    Branches, left to right: 1x1 conv (s2 maps); 1x1 (s1) -> 5x5 (s2) (if ``with_5x5``); 1x1 (s1)
    -> 3x3 (s2); 1x1 (s1) -> 2x2 average pooling with stride 1.  Every convolution is followed by a
    PReLU.  The output holds 3 s2 + s1 maps (2 s2 + s1 without the 5x5 branch), of side ``size``
    pixels if given (the block keeps the side of its input: "same" padding).
    """

    if min(s1, s2) < 1:
        raise ValueError(f"s1 and s2 must be positive numbers of feature maps, got {s1}, {s2}")
    branches = [[f"1\u00d71 conv\n{s2} maps"]]
    if with_5x5:
        branches.append([f"1\u00d71 conv\n{s1} maps", f"5\u00d75 conv\n{s2} maps"])
    branches.append([f"1\u00d71 conv\n{s1} maps", f"3\u00d73 conv\n{s2} maps"])
    branches.append([f"1\u00d71 conv\n{s1} maps", f"avg-pool 2\u00d72\nstride 1"])
    n_out = (2 + with_5x5) * s2 + s1
    side = f"{size}\u00d7{size}\u00d7" if size else ""
    width, height = COLUMN_WIDTH, 2.75
    col_w, box_h = width / len(branches), 0.42
    rows_y = {"input": 2.48, 0: 1.8, 1: 1.12, "concat": 0.3}

    def box(x, y, w, text, kind):
        ax.add_patch(FancyBboxPatch((x - w / 2, y - box_h / 2), w, box_h, boxstyle="round,pad=0,rounding_size=0.04",
                                    fc=_STAGE_FILL[kind], ec="0.35", lw=0.6))
        ax.text(x, y, text, ha="center", va="center")

    with paper_style():
        fig = Figure(figsize=(width, height))
        ax = fig.add_axes((0, 0, 1, 1))
        ax.set_axis_off()
        ax.set(xlim=(0, width), ylim=(0, height))
        box(width / 2, rows_y["input"], width * 0.6, "input maps (previous stage)", "input")
        box(width / 2, rows_y["concat"], width * 0.9,
            f"concatenate: {side}{n_out} maps\n({2 + with_5x5} \u00d7 {s2} + {s1})", "inception")
        for j, steps in enumerate(branches):
            x = col_w * (j + 0.5)
            _arrow(ax, (width / 2, rows_y["input"] - box_h / 2), (x, rows_y[0] + box_h / 2))
            for k, text in enumerate(steps):
                box(x, rows_y[k], col_w * 0.9, text, "pool" if text.startswith("avg") else "conv")
                if k:
                    _arrow(ax, (x, rows_y[k - 1] - box_h / 2), (x, rows_y[k] + box_h / 2))
            _arrow(ax, (x, rows_y[len(steps) - 1] - box_h / 2), (x, rows_y["concat"] + box_h / 2))
    return fig
