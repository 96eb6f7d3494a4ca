"""AudioVisualSimilarity: the contrastive baseline's cosine maps (EZ-VSL)."""

import numpy as np
import pytest
from keras import ops

from keras_avl.layers import AudioVisualSimilarity
from tests.conftest import weights_by_name
from tests.layer_test_case import run_layer_test
from tests.numpy_reference import audio_visual_similarity

pytestmark = pytest.mark.multibackend

B, T, H, W, DV, DA, E = 3, 4, 2, 3, 6, 5, 8


def _inputs(rng):
    return [
        rng.normal(size=(B, T, H, W, DV)).astype("float32"),
        rng.normal(size=(B, T, DA)).astype("float32"),
    ]


def test_contract(rng, tmp_path):
    run_layer_test(
        AudioVisualSimilarity,
        {"embed_dim": E},
        _inputs(rng),
        [(B, T, B), (B, T, H * W)],
        tmp_path,
        expected_num_trainable_weights=4,
        # The cross similarity's last axis is the batch: unknown symbolically.
        symbolic_output_shapes=[(T, None), (T, H * W)],
    )


def test_against_numpy(rng):
    visual, audio = _inputs(rng)
    layer = AudioVisualSimilarity(embed_dim=E)
    layer([visual, audio])
    # Non-zero biases, so that a layer ignoring them fails.
    layer.b_v.assign(rng.normal(size=(E,)).astype("float32"))
    layer.b_a.assign(rng.normal(size=(E,)).astype("float32"))
    cross, sim_map = (ops.convert_to_numpy(x) for x in layer([visual, audio]))
    w = weights_by_name(layer)
    expected_cross, expected_map = audio_visual_similarity(
        visual.reshape(B, T, H * W, DV), audio, w["W_v"], w["b_v"], w["W_a"], w["b_a"]
    )
    np.testing.assert_allclose(cross, expected_cross, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(sim_map, expected_map, rtol=1e-5, atol=1e-5)


def test_rejects_wrong_ranks(rng):
    with pytest.raises(ValueError, match="AudioVisualSimilarity expects"):
        AudioVisualSimilarity(embed_dim=E)(
            [np.zeros((B, T, DV), "float32"), np.zeros((B, T, DA), "float32")]
        )
