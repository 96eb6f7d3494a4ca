"""`build_model`: builds the model of any method's config for a regime (Fig.
2's three regimes), through the builder its method registers
(`keras_avl.models.registry.METHODS`, dispatched on the config's `method`).
Each method's builders live in its module, one module a method (as keras-hub
keeps one model a folder): `paper`, `avatt`, `avsdn`, `psp`, `cmbs`,
`contrastive` (`ezvsl`).

Every model names the layers whose outputs a user wants to look at: `avfb` or
`audio_guided_attention` (lambda), `visual_swab` / `audio_swab` (alpha) and
`segment_probabilities`; `inference_model` turns them into one model.

Every model takes the optional input `segment_mask` (B, T), 1 = real segment,
0 = padding at the end of a clip shorter than T (`segment_mask_negative` for
the negative audio of the unsupervised regime; `keras_avl.models.inputs`);
left out, every segment is real. Padded segments reach no output at a real
segment (see each model's module), and the segment probabilities carry the
mask, so that Keras leaves them out of the loss and the accuracy.
"""

from keras_avl.models.registry import get_method


def build_model(config, regime, compile=True, optimizer=None, loss=None):
    """The model of `regime` (one of `keras_avl.models.REGIMES`) built from
    `config`, a method's config (`PaperConfig`, `AVAttConfig`, `PSPConfig`,
    ...; `keras_avl.models.get(NAME).config(regime)` gives a preset's).

    `optimizer` and `loss` (a training protocol's, `keras_avl.protocols`)
    compile the supervised and weak models; a protocol's loss replaces the
    classifier loss of the paper's model and A+V-att only, and the
    unsupervised models train with their own loss and Adam. A regime the
    method lacks is a clear error.

    Example:

    >>> from keras_avl.models import AVAttConfig, PaperConfig
    >>> config = PaperConfig(num_classes=3, visual_dim=8, embed_dim=8,
    ...                      mfb_output_dim=4, hidden=4, swab_units=4)
    >>> build_model(config, "supervised").output_shape
    (None, 10, 3)
    >>> build_model(AVAttConfig(num_classes=3, visual_dim=8, hidden=4), "weak").name
    'avatt_weak'
    """
    return get_method(config.method).build(config, regime, compile=compile,
                                           optimizer=optimizer, loss=loss)
