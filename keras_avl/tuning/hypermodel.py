"""`AVLHyperModel`: a `keras_tuner.HyperModel` over `AVLConfig`.

Each trial applies the tuner's values of the search space (see
`keras_avl.tuning.search_space`) to a base config and builds the compiled model
of the regime with `keras_avl.models.build_model`.
"""

import keras_tuner

from keras_avl.models import REGIMES, AVLConfig, build_model
from keras_avl.tuning.search_space import (
    declare,
    default_search_space,
    validate_search_space,
)
from keras_avl.validation import check_choice


class AVLHyperModel(keras_tuner.HyperModel):
    """Searches `AVLConfig` fields for one training regime.

    Args:
        regime: `"supervised"`, `"weak"` or `"unsupervised"`.
        base_config: the `AVLConfig` the tuned values are applied to; it holds
            what the data fix (`num_classes`, `segments`, `grid`, feature
            sizes) and every field not searched (default `AVLConfig()`).
        search_space: dict of field -> list of choices or `{"min", "max"}`
            range (default: `default_search_space(regime)`); validated at
            construction.
        name: the hypermodel's name.
        tunable: as in `keras_tuner.HyperModel`.

    Example:

    >>> import keras_tuner
    >>> from keras_avl.models import AVLConfig
    >>> base = AVLConfig(num_classes=3, segments=4, grid=(2, 2), visual_dim=8,
    ...                  audio_dim=6, embed_dim=8, mfb_output_dim=4)
    >>> hypermodel = AVLHyperModel("supervised", base,
    ...                            {"hidden": [4, 8], "dropout": {"min": 0.0, "max": 0.5}})
    >>> hp = keras_tuner.HyperParameters()
    >>> config = hypermodel.config(hp)  # the first trial: defaults of the space
    >>> config.hidden, config.dropout
    (4, 0.0)
    >>> hypermodel.build(hp).output_shape
    (None, 4, 3)
    """

    def __init__(self, regime="supervised", base_config=None, search_space=None,
                 name=None, tunable=True):
        super().__init__(name=name, tunable=tunable)
        self.regime = check_choice("regime", regime, REGIMES)
        self.base_config = base_config or AVLConfig()
        if search_space is None:
            search_space = default_search_space(regime)
        self.search_space = validate_search_space(search_space, regime, self.base_config)

    def config(self, hp):
        """The `AVLConfig` of the trial whose values `hp` holds (declaring the
        search space on `hp` when it is new)."""
        values = {name: declare(hp, name, spec) for name, spec in self.search_space.items()}
        return self.base_config.replace(**values)

    def build(self, hp):
        return build_model(self.config(hp), self.regime)
