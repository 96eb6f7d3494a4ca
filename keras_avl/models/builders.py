"""Builds the model of an `AVLConfig` for a regime (Fig. 2's three regimes):
`build_model` and the per-regime builders dispatch on `config.architecture`
to the module of that model, one module a model (as keras-hub keeps one model
a folder):

- `"paper"`: `keras_avl.models.paper`, the paper's model (its Table 1-3 rows
  are variants of its config, `keras_avl.models.VARIANTS`);
- `"avatt"`, `"avatt-keras-avl"`: `keras_avl.models.avatt`, A+V-att;
- `"ezvsl"`: `keras_avl.models.contrastive`, the unsupervised regime only.

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

from keras_avl.models.avatt import ARCHITECTURES as AVATT_ARCHITECTURES
from keras_avl.models.avatt import build_avatt_supervised, build_avatt_weak
from keras_avl.models.config import AVLConfig
from keras_avl.models.contrastive import build_contrastive
from keras_avl.models.paper import (
    build_paper_supervised,
    build_paper_unsupervised,
    build_paper_weak,
)
from keras_avl.regimes import REGIMES


def _classifier_builders(config):
    """(supervised builder, weak builder) of the config's architecture."""
    if config.architecture == "ezvsl":
        raise ValueError(
            "architecture='ezvsl' is the contrastive baseline: it does not "
            "classify; build it with build_model(config, 'unsupervised')."
        )
    if config.architecture in AVATT_ARCHITECTURES:
        return build_avatt_supervised, build_avatt_weak
    return build_paper_supervised, build_paper_weak


def build_supervised(config=None, compile=True, optimizer=None, loss=None):
    """The supervised model of `config.architecture` (`build_paper_supervised`,
    `build_avatt_supervised`): (B, T, C) segment probabilities, compiled with
    `optimizer` and `loss` when a training protocol gives them.

    Example:

    >>> config = AVLConfig(architecture="avatt", num_classes=3, visual_dim=8, hidden=4,
    ...                    avatt_hidden_dim=8)
    >>> build_supervised(config).name
    'avatt_supervised'
    """
    config = config or AVLConfig()
    return _classifier_builders(config)[0](config, compile, optimizer, loss)


def build_weakly_supervised(config=None, compile=True, optimizer=None, loss=None):
    """The weak model of `config.architecture` (`build_paper_weak`,
    `build_avatt_weak`): (B, C) video probabilities; `optimizer` and `loss` as
    `build_supervised`."""
    config = config or AVLConfig()
    return _classifier_builders(config)[1](config, compile, optimizer, loss)


def build_unsupervised(config=None, compile=True):
    """Sound localization without labels, trained with AVTGML (§3.7): the
    paper's model (`keras_avl.models.paper.build_paper_unsupervised`)."""
    return build_paper_unsupervised(config, compile=compile)


def build_model(config, regime, compile=True, optimizer=None, loss=None):
    """Dispatches to the builder of `regime` (one of `REGIMES`); the
    contrastive baseline (`architecture="ezvsl"`) has the unsupervised one only.
    `optimizer` and `loss` (a training protocol's) compile the classifiers of
    the supervised and weak regimes; the unsupervised models train with their
    own loss and Adam."""
    if config.architecture == "ezvsl":
        if regime != "unsupervised":
            raise ValueError(
                "The contrastive baseline (architecture='ezvsl') trains without "
                f"labels: expected regime='unsupervised'; received regime={regime!r}."
            )
        return build_contrastive(config, compile=compile)
    builders = {
        "supervised": build_supervised,
        "weak": build_weakly_supervised,
        "unsupervised": build_unsupervised,
    }
    if regime not in builders:
        raise ValueError(f"`regime` must be one of {REGIMES}; received regime={regime!r}.")
    if regime == "unsupervised":
        if optimizer is not None or loss is not None:
            raise ValueError(
                "The unsupervised regime trains with its own loss and Adam; a training "
                "protocol's optimizer or loss applies to the supervised and weak "
                "regimes only."
            )
        return build_unsupervised(config, compile=compile)
    return builders[regime](config, compile=compile, optimizer=optimizer, loss=loss)
