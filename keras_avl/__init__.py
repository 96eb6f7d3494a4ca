"""keras-avl: audio-visual sound source and event localization in Keras 3.

Implements "See the Sound, Hear the Pixels" (Ramaswamy & Das, WACV 2020):
the AVFB and SWAB blocks, the aggregation of eq. 12, the AVTGML loss, and the
supervised, weakly supervised and unsupervised models built from them.

Sub-packages are imported on first use, so that `keras-avl --help` does not pay
for importing Keras and its backend.
"""

import importlib

from keras_avl.version import __version__

_SUBMODULES = (
    "data",
    "features",
    "layers",
    "losses",
    "models",
    "ops",
    "training",
    "tuning",
    "visualization",
)

__all__ = list(_SUBMODULES) + ["__version__"]


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"keras_avl.{name}")
    raise AttributeError(f"module 'keras_avl' has no attribute {name!r}")
