"""`FeatureExtractor`: a `VideoClip` -> AVE features (pool5 and VGGish)."""

import numpy as np

from keras_avl.features.log_mel import segment_log_mel_examples
from keras_avl.features.vgg19 import POOL5_SHAPE, build_vgg19_pool5, segment_pool5
from keras_avl.features.vggish import EMBEDDING_SIZE, build_vggish

RANDOM_WEIGHTS = "random"


class FeatureExtractor:
    """Both backbones, loaded once: visual (T, 7, 7, 512) pool5 averaged per
    segment, audio (T, 128) VGGish embeddings; padded segments are zeros.

    Args:
        visual_weights: `"imagenet"`, a VGG-19 no-top weights file, or
            `"random"` / None (random weights, for tests and benchmarks).
        vggish_weights: `vggish_model.ckpt` / a `.weights.h5` file, or
            `"random"` (required: there is no download for VGGish).
        embedding_relu: ReLU on the VGGish embedding (AVE's features have it).
        batch_size: frames per VGG-19 forward pass.

    Example:

    >>> from keras_avl.features import read_clips
    >>> extractor = FeatureExtractor("imagenet", "vggish_model.ckpt")  # doctest: +SKIP
    >>> visual, audio = extractor(next(read_clips("clip.mp4")))  # doctest: +SKIP
    >>> visual.shape, audio.shape  # doctest: +SKIP
    ((10, 7, 7, 512), (10, 128))
    """

    def __init__(self, visual_weights, vggish_weights, embedding_relu=True, batch_size=32):
        if vggish_weights is None:
            raise ValueError(
                "`vggish_weights` is required: vggish_model.ckpt of the AudioSet release "
                "(https://storage.googleapis.com/audioset/vggish_model.ckpt), a .weights.h5 "
                "file, or 'random' (tests only); received None."
            )

        def weights(value):
            return None if value in (None, RANDOM_WEIGHTS) else value

        self.visual_model = build_vgg19_pool5(weights(visual_weights))
        self.audio_model = build_vggish(embedding_relu, weights(vggish_weights))
        self.batch_size = batch_size

    def visual(self, clip):
        """(T, 7, 7, 512) float32; padded segments are zeros."""
        valid = clip.mask > 0
        features = np.zeros((len(clip.mask),) + POOL5_SHAPE, np.float32)
        if valid.any():
            features[valid] = segment_pool5(self.visual_model, clip.frames[valid], self.batch_size)
        return features

    def audio(self, clip):
        """(T, 128) float32; padded segments are zeros."""
        valid = clip.mask > 0
        features = np.zeros((len(clip.mask), EMBEDDING_SIZE), np.float32)
        if valid.any():
            examples = segment_log_mel_examples(clip.audio[valid])
            features[valid] = np.asarray(self.audio_model.predict_on_batch(examples))
        return features

    def __call__(self, clip):
        return self.visual(clip), self.audio(clip)
