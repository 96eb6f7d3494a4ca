"""keras-avl: audio-visual sound source and event localization in Keras 3.

Implements "See the Sound, Hear the Pixels" (Ramaswamy & Das, WACV 2020):
the AVFB and SWAB blocks, the aggregation of eq. 12, the AVTGML loss, and the
supervised, weakly supervised and unsupervised models built from them.
"""

from keras_avl import layers, losses, models
from keras_avl.version import __version__

__all__ = ["layers", "losses", "models", "__version__"]
