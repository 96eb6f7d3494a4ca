"""Functional models of the AVE methods, one module each: the paper's model
(`paper`, its three regimes, `PaperConfig`), A+V-att (`avatt`,
`AVAttConfig`), the contrastive baseline (`contrastive`, `EZVSLConfig`),
AVSDN, PSP, CMBS and CACE-Net (`avsdn`, `psp`, `cmbs`,
`cace`). The registry (`METHODS`) lists
the methods, `presets()` every model name (`get(NAME)`, `keras-avl models`);
`build_model` builds any method's config."""

from keras_avl.models.avatt import AVAttConfig
from keras_avl.models.avsdn import AVSDNConfig
from keras_avl.models.builders import build_model
from keras_avl.models.cmbs import CMBSConfig
from keras_avl.models.contrastive import EZVSLConfig
from keras_avl.models.inference import inference_model
from keras_avl.models.inputs import model_inputs
from keras_avl.models.method_config import MethodConfig
from keras_avl.models.paper_config import AVLConfig, PaperConfig
from keras_avl.models.presets import Preset
from keras_avl.models.psp import PSPConfig
from keras_avl.models.registry import METHODS, Method, get, presets
from keras_avl.models.step_lr import StepLR  # registered: loads models compiled with it
from keras_avl.regimes import REGIMES

__all__ = [
    "AVAttConfig",
    "AVLConfig",
    "AVSDNConfig",
    "CMBSConfig",
    "EZVSLConfig",
    "METHODS",
    "Method",
    "MethodConfig",
    "PSPConfig",
    "PaperConfig",
    "Preset",
    "REGIMES",
    "StepLR",
    "build_model",
    "get",
    "inference_model",
    "model_inputs",
    "presets",
]
