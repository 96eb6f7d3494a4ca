"""How the builders of `keras_avl.models` compile a model: Adam at the
config's learning rate (or the optimizer of a training protocol,
`keras_avl.protocols`) and the model's own loss (or the protocol's)."""

import keras


def compile_model(model, config, loss, metrics, optimizer=None, **kwargs):
    """`model.compile` with `optimizer`, by default Adam at `config.learning_rate`;
    `kwargs` go to `compile` (e.g. `loss_weights`)."""
    model.compile(optimizer=optimizer or keras.optimizers.Adam(config.learning_rate),
                  loss=loss, metrics=metrics, **kwargs)


def compile_classifier(model, config, optimizer=None, loss=None):
    """Compiles a supervised or weak classifier of one output: categorical
    cross-entropy (the paper's loss, §3.6) unless a protocol gives `loss`, and
    the categorical accuracy.

    Example:

    >>> from keras_avl.losses import multilabel_soft_margin_loss
    >>> from keras_avl.models import PaperConfig, build_model
    >>> config = PaperConfig(num_classes=3, visual_dim=8, embed_dim=8, mfb_output_dim=4,
    ...                      hidden=4, swab_units=4)
    >>> model = build_model(config, "supervised", compile=False)
    >>> compile_classifier(model, config, loss=multilabel_soft_margin_loss)
    >>> model.loss.__name__
    'multilabel_soft_margin_loss'
    """
    compile_model(model, config, loss or keras.losses.CategoricalCrossentropy(),
                  ["categorical_accuracy"], optimizer)


def compile_video_classifier(model, config, loss, optimizer=None):
    """Compiles a weak model of several outputs (PSP, CMBS): `loss` and the
    categorical accuracy on its `video_probabilities` (the video labels), no
    loss on the others."""
    compile_model(model, config, {"video_probabilities": loss},
                  {"video_probabilities": ["categorical_accuracy"]}, optimizer)
