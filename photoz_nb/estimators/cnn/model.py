"""Net_P, the network of Pasquet et al. (2019), and its width-scaled variants.

Layer by layer (64x64x5 input, channels last, every convolution "same"-padded and
followed by a per-channel PReLU)::

    conv 5x5 (64) -> avg-pool 2/2                                  32x32x64
    inception(48 -> 64) -> inception(64 -> 92)                     32x32x240, 32x32x340
    avg-pool 2/2 -> inception(92 -> 128) x 2                       16x16x476
    avg-pool 2/2 -> inception(92 -> 128, no 5x5 branch)            8x8x348
    flatten (22272), concatenate E(B-V) -> dense 1096 ReLU x 2 -> softmax 180

An inception block ``(s1, s2)`` concatenates four branches: 1x1(s2); 1x1(s1) -> 5x5(s2);
1x1(s1) -> 3x3(s2); 1x1(s1) -> avg-pool 2x2 stride 1; it outputs ``3 s2 + s1`` maps
(``2 s2 + s1`` without the 5x5 branch).  Weights start Glorot-uniform ("Xavier") with
biases at 0.1; there is no batch normalisation and no dropout.  At width 1 the network
has 27,596,372 weights with E(B-V) (27,595,276 without): 24.41 M in the first dense layer
(22,273 x 1096 + 1096), 1.20 M in the second, 0.20 M in the softmax and 1.78 M in the
convolutions and PReLU slopes -- the paper's "about 27 million".  The count pins the
padding: "valid" pooling would leave 7x7x348 features and about 21.9 M weights.
"""
from __future__ import annotations

import contextlib
import random

import keras
import numpy as np
from keras import layers

from ... import config

#: Feature maps (s1, s2) of the five inception blocks and whether each has a 5x5 branch.
INCEPTION_BLOCKS = ((48, 64, True), (64, 92, True), (92, 128, True), (92, 128, True), (92, 128, False))
FIRST_CONV_MAPS = 64
DENSE_UNITS = 1096
BIAS_INIT = 0.1
#: E(B-V) is divided by this (about the spread of E(B-V) in the MGS, in mag) before it joins the
#: flattened features: at its raw size (~0.03) the one extra input is drowned by thousands of
#: features of order one, and the measured E(B-V) trend of the bias stayed as strong as without it.
EBV_SCALE = 0.025


def scaled(n: int, width: float) -> int:
    """``n`` feature maps (or units) scaled by ``width``: rounded, at least 4."""
    return max(4, int(round(n * width)))


def _conv(x, filters: int, kernel: int, name: str):
    """Convolution ("same" padding, bias 0.1) followed by a per-channel PReLU."""
    x = layers.Conv2D(filters, kernel, padding="same", name=name, kernel_initializer="zeros",
                      bias_initializer=keras.initializers.Constant(BIAS_INIT))(x)
    # One slope per feature map (the paper's PReLU), not one per pixel (Keras' default).
    return layers.PReLU(shared_axes=[1, 2], name=f"{name}_prelu")(x)


def _inception(x, s1: int, s2: int, with_5x5: bool, name: str):
    """Inception block of Net_P: see the module docstring."""
    branches = [_conv(x, s2, 1, f"{name}_1x1")]
    if with_5x5:
        reduced = _conv(x, s1, 1, f"{name}_5x5_reduce")
        branches.append(_conv(reduced, s2, 5, f"{name}_5x5"))
    reduced = _conv(x, s1, 1, f"{name}_3x3_reduce")
    branches.append(_conv(reduced, s2, 3, f"{name}_3x3"))
    reduced = _conv(x, s1, 1, f"{name}_pool_reduce")
    branches.append(layers.AveragePooling2D(2, strides=1, padding="same", name=f"{name}_pool")(reduced))
    return layers.Concatenate(name=f"{name}_concat")(branches)


def _net_p_graph(width: float, n_bins: int, use_ebv: bool) -> keras.Model:
    """The layers of Net_P (see :func:`build_net_p`), with zero kernels."""
    image = keras.Input((config.STAMP, config.STAMP, len(config.BANDS)), name="image")
    x = _conv(image, scaled(FIRST_CONV_MAPS, width), 5, "conv0")
    x = layers.AveragePooling2D(2, name="pool0")(x)
    for i, (s1, s2, with_5x5) in enumerate(INCEPTION_BLOCKS):
        if i in (2, 4):  # pools before the third and the fifth block
            x = layers.AveragePooling2D(2, name=f"pool{i // 2}")(x)
        x = _inception(x, scaled(s1, width), scaled(s2, width), with_5x5, f"inception{i}")
    x = layers.Flatten(name="flatten")(x)
    inputs = [image]
    if use_ebv:
        ebv = keras.Input((1,), name="ebv")
        inputs.append(ebv)
        scaled_ebv = layers.Rescaling(1.0 / EBV_SCALE, name="ebv_scaled")(ebv)
        x = layers.Concatenate(name="concat_ebv")([x, scaled_ebv])
    for i in (1, 2):
        x = layers.Dense(scaled(DENSE_UNITS, width), activation="relu", name=f"fc{i}",
                         kernel_initializer="zeros", bias_initializer=keras.initializers.Constant(BIAS_INIT))(x)
    pdf = layers.Dense(n_bins, activation="softmax", name="pdf", dtype="float32",
                       kernel_initializer="zeros", bias_initializer=keras.initializers.Constant(BIAS_INIT))(x)
    return keras.Model(inputs, pdf, name=f"net_p_w{width:g}" + ("" if use_ebv else "_noebv"))


@contextlib.contextmanager
def _dtype_policy(name: str):
    """Layers built inside take the Keras dtype policy ``name``; the global policy is restored after."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def glorot_uniform_(model: keras.Model, seed: int) -> None:
    """Draw every Conv2D/Dense kernel from Glorot-uniform ("Xavier") with numpy, in place.

    Why numpy: Keras' initialisers run one compiled random kernel per weight shape, which
    costs ~0.5 s each under JAX on CPU (20 s per build); numpy is instant, and the same
    seed then gives the same initial weights on every backend.
    """
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, (layers.Conv2D, layers.Dense)):
            shape = tuple(layer.kernel.shape)
            receptive = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
            fan_in, fan_out = shape[-2] * receptive, shape[-1] * receptive
            limit = np.sqrt(6.0 / (fan_in + fan_out))
            layer.kernel.assign(rng.uniform(-limit, limit, shape).astype(np.float32))


def build_net_p(width: float = 1.0, n_bins: int = config.N_BINS, use_ebv: bool = True,
                seed: int | None = None, mixed_precision: bool = False) -> keras.Model:
    """Net_P with every feature-map count and dense size multiplied by ``width``.

    Parameters
    ----------
    width : float
        Multiplier on feature maps and dense units (1 is the paper's network; CPU
        profiles use 0.125-0.25).  Each count is rounded and kept at least 4.
    n_bins : int
        Redshift bins of the softmax output.
    use_ebv : bool
        Add the ``"ebv"`` input (shape (1,), mag), divided by :data:`EBV_SCALE` and concatenated
        to the flattened features.
    mixed_precision : bool
        Compute in bfloat16 with float32 weights ("mixed_bfloat16"; for GPUs); the softmax output
        stays float32 so that small probabilities and the loss keep their precision.
    seed : int, optional
        Seed of the Glorot-uniform kernels (:func:`glorot_uniform_`); None draws one from
        Python's ``random`` (seeded by ``keras.utils.set_random_seed``).  The saved
        configuration lists zeros as kernel initialiser: the kernels are drawn after
        construction.

    Returns
    -------
    keras.Model
        Inputs ``"image"`` (64, 64, 5) [and ``"ebv"`` (1,)]; output (n_bins,) probabilities.
    """
    if not width > 0:
        raise ValueError(f"width must be positive, got {width}")
    if int(n_bins) < 2:
        raise ValueError(f"n_bins must be at least 2, got {n_bins}")
    with _dtype_policy("mixed_bfloat16" if mixed_precision else "float32"):
        model = _net_p_graph(width, int(n_bins), use_ebv)
    glorot_uniform_(model, random.randrange(2**31) if seed is None else seed)
    return model


def architecture(model: keras.Model) -> list[tuple[str, tuple]]:
    """(layer class, output shape) of every layer: a fingerprint of the architecture."""
    return [(layer.__class__.__name__, tuple(layer.output.shape[1:]) if hasattr(layer.output, "shape")
             else tuple(tuple(o.shape[1:]) for o in layer.output)) for layer in model.layers]


def weight_shapes(model: keras.Model) -> list[tuple[str, tuple]]:
    """(path, shape) of every weight, in order: what must agree to load a checkpoint."""
    return [(w.path, tuple(w.shape)) for w in model.weights]


def forward_flops(model) -> int:
    """Multiply-adds x 2 of one image's forward pass through the convolutions and dense layers.

    Training costs about three times this (the backward pass computes two products per weight
    and activation); pooling, PReLU and softmax are a fraction of a percent and left out.
    """
    flops = 0
    for layer in model.layers:
        if isinstance(layer, layers.Conv2D):
            _, h, w, c_out = layer.output.shape
            kh, kw = layer.kernel_size
            flops += 2 * h * w * kh * kw * layer.input.shape[-1] * c_out
        elif isinstance(layer, layers.Dense):
            flops += 2 * layer.input.shape[-1] * layer.units
    return int(flops)
