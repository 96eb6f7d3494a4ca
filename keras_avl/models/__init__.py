"""Functional models of the paper's three regimes and its baselines, and the
registry of the other AVE methods (AVSDN, PSP, CMBS), one module each."""

from keras_avl.models.builders import (
    REGIMES,
    build_model,
    build_supervised,
    build_unsupervised,
    build_weakly_supervised,
    model_inputs,
)
from keras_avl.models.config import AVLConfig
from keras_avl.models.contrastive import build_contrastive
from keras_avl.models.inference import inference_model
from keras_avl.models.registry import METHODS, get
from keras_avl.models.variants import VARIANTS, variant_config

__all__ = [
    "AVLConfig",
    "METHODS",
    "REGIMES",
    "VARIANTS",
    "build_contrastive",
    "build_model",
    "build_supervised",
    "build_unsupervised",
    "build_weakly_supervised",
    "get",
    "inference_model",
    "model_inputs",
    "variant_config",
]
