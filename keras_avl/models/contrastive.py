"""The contrastive sound-source-localization baseline (EZ-VSL style).

The field's yardstick for unsupervised localization (Senocak et al., CVPR
2018; LVS, CVPR 2021; EZ-VSL, ECCV 2022): regions and audio are projected to a
common space (`AudioVisualSimilarity`), every video's regions must find their
own audio among the batch's and the other way round (`InfoNCELoss`, a
multiple-instance max over regions), and the localization map is the cosine
of every region with the video's own audio. Here it runs per one-second
segment on the same features and loader as the paper's unsupervised model
(`audio_negative` is accepted so that both read the same batches; the batch
provides the negatives). Its config is `EZVSLConfig`; it trains in the
unsupervised regime only (the method and preset `ezvsl`).
"""

import dataclasses

import keras

from keras_avl.layers import AudioVisualSimilarity
from keras_avl.losses import InfoNCELoss
from keras_avl.models.inputs import model_inputs
from keras_avl.models.method_config import MethodConfig
from keras_avl.models.optional_inputs import OptionalInputsModel


@dataclasses.dataclass
class EZVSLConfig(MethodConfig):
    """The contrastive baseline's knobs.

    Args:
        embed_dim: channels of the common audio-visual space.
        temperature: tau of the InfoNCE loss (EZ-VSL: 0.03).
        (and the data fields and `learning_rate` of `MethodConfig`)

    Example:

    >>> EZVSLConfig(embed_dim=8).method
    'ezvsl'
    """

    method = "ezvsl"
    positive_ints = ("embed_dim",)

    embed_dim: int = 512
    temperature: float = 0.03

    def __post_init__(self):
        super().__post_init__()
        if not self.temperature > 0:
            raise ValueError(
                f"`temperature` must be > 0; received temperature={self.temperature!r}."
            )


def build_contrastive(config=None, compile=True, optimizer=None):
    """The EZ-VSL-style model, trained without labels with InfoNCE.

    Its output is the `(B, T, B)` cross similarity that `InfoNCELoss` reads;
    the map (B, T, S) is the second output of the layer
    `audio_visual_similarity`, which `inference_model` returns as
    `spatial_attention`. `optimizer`: Adam at `config.learning_rate` by
    default.

    Example:

    >>> config = EZVSLConfig(visual_dim=8, embed_dim=8)
    >>> build_contrastive(config).output_shape
    (None, 10, None)
    """
    config = config or EZVSLConfig()
    if not isinstance(config, EZVSLConfig):
        raise ValueError(
            "build_contrastive builds the EZ-VSL-style baseline from an EZVSLConfig; "
            f"received a {type(config).__name__}."
        )
    inputs = model_inputs(config, negative_audio=True)
    cross, _ = AudioVisualSimilarity(config.embed_dim, name="audio_visual_similarity")(
        [inputs["visual"], inputs["audio"]]
    )
    model = OptionalInputsModel(inputs, cross, name="ezvsl_unsupervised")
    if compile:
        model.compile(
            optimizer=optimizer or keras.optimizers.Adam(config.learning_rate),
            loss=InfoNCELoss(config.temperature),
        )
    return model
