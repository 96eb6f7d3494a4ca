"""Training protocols: the loss and the optimizer a classifier is compiled with.

- `"keras-avl"` (the default): Adam at `learning_rate` and categorical
  cross-entropy (on the segment labels, or on the video label after MIL
  pooling), as the paper trains (§3.6).
- `"ave-eccv18"`: the protocol of the released AVE-ECCV18 code
  (`supervised_main.py`, `weak_supervised_main.py`): `nn.MultiLabelSoftMarginLoss`
  applied to the model's **softmax outputs** (the code feeds probabilities where
  the loss expects scores: the mean over classes of the binary cross-entropy
  of sigmoid(p) against the labels, averaged over segments or videos;
  `keras_avl.losses.multilabel_soft_margin_loss`), Adam at
  `learning_rate` (1e-3 there) and `StepLR(step_size=15000, gamma=0.1)` stepped
  once per batch. With their batch of 64, `len // 64` batches per epoch (52 on
  the 3339 training videos, 54 with the 178 background videos of the weak
  regime) and 300 (supervised) / 250 (weak) epochs, the rate drops tenfold once,
  at update 15000 (epoch 288) in the supervised regime, and never in the weak
  one (13500 updates).

The protocol is an `AVLConfig` field, so a run's `config.json` records it.
"""

import keras

from keras_avl.losses import multilabel_soft_margin_loss
from keras_avl.models.step_lr import StepLR

PROTOCOLS = ("keras-avl", "ave-eccv18")
# AVE-ECCV18's `StepLR(optimizer, step_size=15000, gamma=0.1)`, in batches.
AVE_ECCV18_STEP_SIZE = 15000
AVE_ECCV18_GAMMA = 0.1


def classifier_loss(protocol):
    """The loss of a classifier (supervised or weak) under `protocol`."""
    if protocol == "ave-eccv18":
        return multilabel_soft_margin_loss
    return keras.losses.CategoricalCrossentropy()


def classifier_optimizer(protocol, learning_rate):
    """Adam; under `"ave-eccv18"` with AVE-ECCV18's per-batch StepLR."""
    if protocol == "ave-eccv18":
        learning_rate = StepLR(learning_rate, AVE_ECCV18_STEP_SIZE, AVE_ECCV18_GAMMA)
    return keras.optimizers.Adam(learning_rate)


def compile_classifier(model, config):
    """Compiles a supervised or weak model with `config.protocol`.

    Example:

    >>> from keras_avl.models import AVLConfig, build_supervised
    >>> config = AVLConfig(num_classes=3, visual_dim=8, embed_dim=8, mfb_output_dim=4,
    ...                    hidden=4, swab_units=4, protocol="ave-eccv18")
    >>> model = build_supervised(config, compile=False)
    >>> compile_classifier(model, config)
    >>> model.loss.__name__
    'multilabel_soft_margin_loss'
    """
    model.compile(
        optimizer=classifier_optimizer(config.protocol, config.learning_rate),
        loss=classifier_loss(config.protocol),
        metrics=["categorical_accuracy"],
    )
