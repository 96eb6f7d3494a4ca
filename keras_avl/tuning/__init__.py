"""Hyperparameter search over `AVLConfig` with keras-tuner."""

from keras_avl.tuning.hypermodel import AVLHyperModel
from keras_avl.tuning.search_space import (
    DEFAULT_SEARCH_SPACE,
    TUNABLE,
    default_search_space,
    validate_search_space,
)
from keras_avl.tuning.tune import TuneResult, tune

__all__ = [
    "AVLHyperModel",
    "DEFAULT_SEARCH_SPACE",
    "TUNABLE",
    "TuneResult",
    "default_search_space",
    "tune",
    "validate_search_space",
]
