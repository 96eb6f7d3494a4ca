"""The paper's building blocks as Keras 3 layers, and those of the other AVE
methods (AVSDN, PSP, CMBS, CACE-Net)."""

from keras_avl.layers.aggregation import Aggregation
from keras_avl.layers.audio_guided_attention import AudioGuidedAttention
from keras_avl.layers.audio_guided_spatial_channel_attention import AudioGuidedSpatialChannelAttention
from keras_avl.layers.audio_visual_similarity import AudioVisualSimilarity
from keras_avl.layers.avfb_layer import AVFBLayer
from keras_avl.layers.background_suppression import BackgroundSuppression
from keras_avl.layers.class_activation_consistency import ClassActivationConsistency, TopKTimeMean
from keras_avl.layers.co_guided_attention import CoGuidedAttention
from keras_avl.layers.contrastive_event_head import ContrastiveEventHead
from keras_avl.layers.cross_modal_attention_block import CrossModalAttentionBlock
from keras_avl.layers.dual_modality_seq2seq import DualModalitySeq2Seq
from keras_avl.layers.event_gated_probabilities import EventGatedProbabilities
from keras_avl.layers.mfb_pooling import MFBPooling
from keras_avl.layers.mil_pooling import MILPooling
from keras_avl.layers.positive_sample_propagation import PositiveSamplePropagation
from keras_avl.layers.segment_mask import SegmentMask
from keras_avl.layers.segment_score_weighting import SegmentScoreWeighting
from keras_avl.layers.swab_layer import SWABLayer
from keras_avl.layers.triplet_stack import TripletStack

__all__ = [
    "Aggregation",
    "AudioGuidedAttention",
    "AudioGuidedSpatialChannelAttention",
    "AudioVisualSimilarity",
    "AVFBLayer",
    "BackgroundSuppression",
    "ClassActivationConsistency",
    "CoGuidedAttention",
    "ContrastiveEventHead",
    "CrossModalAttentionBlock",
    "DualModalitySeq2Seq",
    "EventGatedProbabilities",
    "MFBPooling",
    "MILPooling",
    "PositiveSamplePropagation",
    "SegmentMask",
    "SegmentScoreWeighting",
    "SWABLayer",
    "TopKTimeMean",
    "TripletStack",
]
