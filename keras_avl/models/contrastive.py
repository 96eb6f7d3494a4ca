"""The contrastive sound-source-localization baseline (EZ-VSL style).

The field's yardstick for unsupervised localization (Senocak et al., CVPR
2018; LVS, CVPR 2021; EZ-VSL, ECCV 2022): regions and audio are projected to a
common space (`AudioVisualSimilarity`), every video's regions must find their
own audio among the batch's and the other way round (`InfoNCELoss`, a
multiple-instance max over regions), and the localization map is the cosine
of every region with the video's own audio. Here it runs per one-second
segment on the same features and loader as the paper's unsupervised model
(`audio_negative` is accepted so that both read the same batches; the batch
provides the negatives).
"""

import keras

from keras_avl.layers import AudioVisualSimilarity
from keras_avl.losses import InfoNCELoss
from keras_avl.models.inputs import model_inputs
from keras_avl.models.optional_inputs import OptionalInputsModel
from keras_avl.models.config import AVLConfig


def build_contrastive(config=None, compile=True):
    """The EZ-VSL-style model, trained without labels with InfoNCE.

    Its output is the `(B, T, B)` cross similarity that `InfoNCELoss` reads;
    the map (B, T, S) is the second output of the layer
    `audio_visual_similarity`, which `inference_model` returns as
    `spatial_attention`.

    Example:

    >>> from keras_avl.models import AVLConfig
    >>> config = AVLConfig(architecture="ezvsl", visual_dim=8, embed_dim=8)
    >>> build_contrastive(config).output_shape
    (None, 10, None)
    """
    config = config or AVLConfig(architecture="ezvsl")
    if config.architecture != "ezvsl":
        raise ValueError(
            "build_contrastive builds the EZ-VSL-style baseline; received "
            f"architecture={config.architecture!r} (expected 'ezvsl')."
        )
    inputs = model_inputs(config, negative_audio=True)
    cross, _ = AudioVisualSimilarity(config.embed_dim, name="audio_visual_similarity")(
        [inputs["visual"], inputs["audio"]]
    )
    model = OptionalInputsModel(inputs, cross, name="ezvsl_unsupervised")
    if compile:
        model.compile(
            optimizer=keras.optimizers.Adam(config.learning_rate),
            loss=InfoNCELoss(config.temperature),
        )
    return model
