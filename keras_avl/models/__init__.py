"""Functional models of the AVE methods, one module each: the paper's model
(`paper`, its three regimes), A+V-att (`avatt`), the contrastive baseline
(`contrastive`), AVSDN, PSP, CMBS and CACE-Net (`avsdn`, `psp`, `cmbs`,
`cace`); `build_model`
builds any `AVLConfig`, and the registry (`get`, `METHODS`) every method."""

from keras_avl.models.builders import (
    REGIMES,
    build_model,
    build_supervised,
    build_unsupervised,
    build_weakly_supervised,
)
from keras_avl.models.config import AVLConfig
from keras_avl.models.contrastive import build_contrastive
from keras_avl.models.inference import inference_model
from keras_avl.models.inputs import model_inputs
from keras_avl.models.registry import METHODS, get
from keras_avl.models.step_lr import StepLR  # registered: loads models compiled with it
from keras_avl.models.variants import VARIANTS, variant_config

__all__ = [
    "AVLConfig",
    "METHODS",
    "REGIMES",
    "StepLR",
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
