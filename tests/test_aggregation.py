import numpy as np
import pytest
from keras import ops

from keras_avl.layers import Aggregation
from tests.layer_test_case import run_layer_test

pytestmark = pytest.mark.multibackend

B, T, D = 2, 4, 3


def _inputs(rng):
    return [rng.normal(size=(B, T, D)).astype("float32") for _ in range(4)]


def test_layer_contract(rng, tmp_path):
    run_layer_test(Aggregation, {}, _inputs(rng), [(B, T, 5 * D)], tmp_path)


def test_equation_12_against_numpy(rng):
    h_a, h_v, s_a, s_v = _inputs(rng)
    out = ops.convert_to_numpy(Aggregation()([h_a, h_v, s_a, s_v]))
    for b in range(B):
        for t in range(T):
            sim = (h_a[b, t] - h_v[b, t]) * (s_a[b, t] - s_v[b, t])  # eq. 12
            expected = np.concatenate([h_v[b, t], h_a[b, t], s_v[b, t], s_a[b, t], sim])
            np.testing.assert_allclose(out[b, t], expected, rtol=1e-6)


def test_mismatched_shapes_are_rejected(rng):
    inputs = _inputs(rng)
    inputs[3] = rng.normal(size=(B, T, D + 1)).astype("float32")
    with pytest.raises(ValueError, match="one shape"):
        Aggregation()(inputs)
