"""`inference_model`: one call for a batch gives every map and prediction."""

import keras

from keras_avl.models.optional_inputs import OptionalInputsModel

# Layers whose second output is the spatial attention lambda (B, T, S) (the
# similarity map for the contrastive baseline).
SPATIAL_ATTENTION_LAYERS = ("avfb", "audio_guided_attention", "audio_visual_similarity")


def _layer(model, name):
    return next((layer for layer in model.layers if layer.name == name), None)


def inference_model(model):
    """A model sharing `model`'s weights whose dict output holds, for a batch:

    - `segment_probabilities` (B, T, C), when the model classifies;
    - `spatial_attention`, lambda reshaped to (B, T, H, W), when the model
      attends over regions (AVFB with MFB, or the A+V-att baseline; uniform for
      the fusions without attention);
    - `segment_attention`, alpha of the visual SWAB (B, T) (of the audio SWAB
      when there is no visual stream), and `audio_segment_attention`, when
      the model has SWAB.

    It accepts the same inputs as `model` (`segment_mask` too, and
    `audio_negative` for the unsupervised regime).

    Example:

    >>> import numpy as np
    >>> from keras_avl.models import PaperConfig, build_model
    >>> config = PaperConfig(num_classes=3, visual_dim=8, embed_dim=8,
    ...                      mfb_output_dim=4, hidden=4, swab_units=4)
    >>> outputs = inference_model(build_model(config, "supervised")).predict(
    ...     {"visual": np.zeros((2, 10, 7, 7, 8)), "audio": np.zeros((2, 10, 128))},
    ...     verbose=0)
    >>> sorted(outputs)
    ['audio_segment_attention', 'segment_attention', 'segment_probabilities', 'spatial_attention']
    >>> outputs["spatial_attention"].shape
    (2, 10, 7, 7)
    """
    outputs = {}
    classifier = _layer(model, "segment_probabilities")
    if classifier is not None:
        outputs["segment_probabilities"] = classifier.output
    elif _layer(model, "segment_logits") is not None:
        # The released A+V-att's weak model: its segment scores, not a softmax
        # (an Activation: the segment mask they carry is not over the classes).
        outputs["segment_probabilities"] = keras.layers.Activation("softmax", dtype="float32")(
            _layer(model, "segment_logits").output
        )
    for name in SPATIAL_ATTENTION_LAYERS:
        layer = _layer(model, name)
        if layer is not None:
            grid = tuple(model.get_layer("visual").output.shape[2:4])
            outputs["spatial_attention"] = keras.layers.Reshape((-1,) + grid)(
                layer.output[1]
            )
    visual_swab, audio_swab = _layer(model, "visual_swab"), _layer(model, "audio_swab")
    if visual_swab is not None:
        outputs["segment_attention"] = visual_swab.output[1]
        if audio_swab is not None:
            outputs["audio_segment_attention"] = audio_swab.output[1]
    elif audio_swab is not None:
        outputs["segment_attention"] = audio_swab.output[1]
    return OptionalInputsModel(model.input, outputs, name=f"{model.name}_inference")
