"""Net_P: the layer graph, the weight count (closed form), width scaling, initialisation."""
import keras
import numpy as np
import pytest
from keras import layers

from photoz_nb import config
from photoz_nb.estimators.cnn.model import architecture, build_net_p, scaled

# Keras converts variables with np.array(x, copy=False): numpy 2 notes it once per variable.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

#: Output shape of every concatenation (the five inceptions, then flatten + E(B-V)) at width 1.
CONCAT_SHAPES = [(32, 32, 240), (32, 32, 340), (16, 16, 476), (16, 16, 476), (8, 8, 348), (22273,)]
POOL_SHAPES = [(32, 32, 64), (16, 16, 340), (8, 8, 476)]
N_WEIGHTS = 27_596_372  # the paper: "about 27 million"


def closed_form_weight_count(use_ebv=True, n_bins=180) -> int:
    """Count Net_P's weights from the paper's description, independently of Keras."""
    def conv(k, cin, cout):  # kernel + bias + one PReLU slope per map
        return k * k * cin * cout + 2 * cout

    def inception(cin, s1, s2, with_5x5=True):
        n = conv(1, cin, s2) + conv(1, cin, s1) + conv(3, s1, s2) + conv(1, cin, s1)
        if with_5x5:
            n += conv(1, cin, s1) + conv(5, s1, s2)
        return n, (3 if with_5x5 else 2) * s2 + s1

    n, c = conv(5, 5, 64), 64
    for s1, s2, with_5x5 in [(48, 64, 1), (64, 92, 1), (92, 128, 1), (92, 128, 1), (92, 128, 0)]:
        m, c = inception(c, s1, s2, with_5x5)
        n += m
    flat = 8 * 8 * c + (1 if use_ebv else 0)
    return n + (flat * 1096 + 1096) + (1096 * 1096 + 1096) + (1096 * n_bins + n_bins)


@pytest.fixture(scope="module")
def net_p():
    return build_net_p(1.0, seed=0)


def test_weight_count_matches_closed_form(net_p):
    assert closed_form_weight_count() == N_WEIGHTS
    assert net_p.count_params() == N_WEIGHTS
    assert build_net_p(1.0, use_ebv=False, seed=0).count_params() == closed_form_weight_count(use_ebv=False)


def test_layer_graph(net_p):
    arch = architecture(net_p)
    kinds = [k for k, _ in arch]
    assert kinds.count("Conv2D") == 1 + 4 * 6 + 4  # first conv, four full inceptions, one without 5x5
    assert kinds.count("PReLU") == kinds.count("Conv2D")  # a PReLU after every convolution
    assert kinds.count("Dense") == 3
    assert not {"BatchNormalization", "Dropout"} & set(kinds)
    assert [s for k, s in arch if k == "Concatenate"] == CONCAT_SHAPES
    stride2 = [layer for layer in net_p.layers
               if isinstance(layer, layers.AveragePooling2D) and layer.strides == (2, 2)]
    assert [tuple(layer.output.shape[1:]) for layer in stride2] == POOL_SHAPES
    assert [s for k, s in arch if k == "Dense"] == [(1096,), (1096,), (180,)]
    assert [s for k, s in arch if k == "Conv2D"][0] == (64, 64, 64)
    kernels = sorted({layer.kernel_size for layer in net_p.layers if isinstance(layer, layers.Conv2D)})
    assert kernels == [(1, 1), (3, 3), (5, 5)]
    # the last inception has no 5x5 branch
    assert not any(layer.name.startswith("inception4_5x5") for layer in net_p.layers)
    assert net_p.get_layer("fc1").activation.__name__ == "relu"
    assert net_p.get_layer("pdf").activation.__name__ == "softmax"


def test_ebv_joins_the_dense_layers_at_order_unity():
    from photoz_nb.estimators.cnn.model import EBV_SCALE
    net = build_net_p(0.125, seed=0)
    features = keras.Model(net.inputs, net.get_layer("concat_ebv").output)
    ebv = np.array([[0.0], [0.05]], dtype="float32")
    out = keras.ops.convert_to_numpy(features({"image": np.zeros((2, 64, 64, 5), "float32"), "ebv": ebv}))
    np.testing.assert_allclose(out[:, -1], ebv[:, 0] / EBV_SCALE, rtol=1e-6)
    assert out[1, -1] == pytest.approx(2.0)


def test_inputs_and_outputs():
    model = build_net_p(0.05, seed=0)
    assert [t.name for t in model.inputs] == ["image", "ebv"]
    assert [tuple(t.shape[1:]) for t in model.inputs] == [(64, 64, 5), (1,)]
    rng = np.random.default_rng(0)
    p = np.asarray(model.predict_on_batch({"image": rng.normal(size=(3, 64, 64, 5)).astype("f4"),
                                           "ebv": np.zeros((3, 1), "f4")}))
    assert p.shape == (3, config.N_BINS)
    np.testing.assert_allclose(p.sum(axis=1), 1, atol=1e-5)
    no_ebv = build_net_p(0.05, use_ebv=False, n_bins=20, seed=0)
    assert [t.name for t in no_ebv.inputs] == ["image"]
    assert tuple(no_ebv.output.shape[1:]) == (20,)


def test_width_scales_every_map_and_unit():
    assert scaled(64, 0.125) == 8 and scaled(1096, 0.25) == 274 and scaled(48, 0.01) == 4
    model = build_net_p(0.125, seed=0)
    assert model.get_layer("conv0").filters == 8
    assert model.get_layer("inception0_3x3_reduce").filters == 6
    assert model.get_layer("fc2").units == 137
    assert tuple(model.get_layer("inception4_concat").output.shape[1:]) == (8, 8, 2 * 16 + 12)
    with pytest.raises(ValueError, match="width"):
        build_net_p(0)


def test_initialisation_is_seeded_glorot_with_bias_0p1():
    a, b, c = (build_net_p(0.1, seed=s) for s in (1, 1, 2))
    for wa, wb in zip(a.weights, b.weights):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(wa), keras.ops.convert_to_numpy(wb))
    fc1_a, fc1_c = (keras.ops.convert_to_numpy(m.get_layer("fc1").kernel) for m in (a, c))
    assert not np.array_equal(fc1_a, fc1_c)
    kernel = keras.ops.convert_to_numpy(a.get_layer("fc1").kernel)
    fan_in, fan_out = kernel.shape
    limit = np.sqrt(6 / (fan_in + fan_out))
    assert np.abs(kernel).max() <= limit
    assert kernel.std() == pytest.approx(limit / np.sqrt(3), rel=0.02)  # uniform(-l, l) has std l/sqrt(3)
    conv = keras.ops.convert_to_numpy(a.get_layer("conv0").kernel)  # fans include the 5x5 receptive field
    assert np.abs(conv).max() <= np.sqrt(6 / (25 * 5 + 25 * conv.shape[-1]))
    assert np.abs(conv).max() > 0.9 * np.sqrt(6 / (25 * 5 + 25 * conv.shape[-1]))
    for layer in a.layers:
        if isinstance(layer, (layers.Conv2D, layers.Dense)):
            bias = keras.ops.convert_to_numpy(layer.bias)
            np.testing.assert_array_equal(bias, np.full(bias.shape, 0.1, "f4"))
