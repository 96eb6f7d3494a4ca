"""From raw video to AVE features: PyAV decoding into one-second segments,
VGGish's log-mel front end and network (audio, 128-d) and VGG-19 pool5
(visual, 7 x 7 x 512), and the extraction of a collection into the AVE layout.

TensorFlow and PyAV are imported inside the functions that need them.
"""

from keras_avl.features.ave_extraction import (
    ExtractionReport,
    ExtractionSettings,
    assemble_dataset,
    extract_dataset,
    find_videos,
    parse_shard,
)
from keras_avl.features.decoding import (
    SAMPLE_RATE,
    UnusableVideoError,
    VideoClip,
    iter_segment_frames,
    read_audio,
    read_clips,
)
from keras_avl.features.extractor import FeatureExtractor
from keras_avl.features.log_mel import log_mel_spectrogram, segment_log_mel_examples
from keras_avl.features.vgg19 import build_vgg19_pool5, segment_pool5
from keras_avl.features.vggish import build_vggish, load_vggish_weights

__all__ = [
    "ExtractionReport",
    "ExtractionSettings",
    "FeatureExtractor",
    "SAMPLE_RATE",
    "UnusableVideoError",
    "VideoClip",
    "assemble_dataset",
    "build_vgg19_pool5",
    "build_vggish",
    "extract_dataset",
    "find_videos",
    "iter_segment_frames",
    "load_vggish_weights",
    "log_mel_spectrogram",
    "parse_shard",
    "read_audio",
    "read_clips",
    "segment_log_mel_examples",
    "segment_pool5",
]
