"""The paper's building blocks as Keras 3 layers."""

from keras_avl.layers.aggregation import Aggregation
from keras_avl.layers.audio_guided_attention import AudioGuidedAttention
from keras_avl.layers.audio_visual_similarity import AudioVisualSimilarity
from keras_avl.layers.avfb_layer import AVFBLayer
from keras_avl.layers.mfb_pooling import MFBPooling
from keras_avl.layers.mil_pooling import MILPooling
from keras_avl.layers.segment_mask import SegmentMask
from keras_avl.layers.swab_layer import SWABLayer
from keras_avl.layers.triplet_stack import TripletStack

__all__ = [
    "Aggregation",
    "AudioGuidedAttention",
    "AudioVisualSimilarity",
    "AVFBLayer",
    "MFBPooling",
    "MILPooling",
    "SegmentMask",
    "SWABLayer",
    "TripletStack",
]
