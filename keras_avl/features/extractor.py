"""`FeatureExtractor`: `VideoClip`s -> AVE features (pool5 and VGGish), one
clip at a time or streamed over many videos with the frames of several
segments and videos in each VGG-19 batch, in float32 or bfloat16."""

import collections
import warnings

import numpy as np

from keras_avl.features.log_mel import segment_log_mel_examples
from keras_avl.features.vgg19 import POOL5_SHAPE, build_vgg19_pool5, segment_pool5
from keras_avl.features.vggish import EMBEDDING_SIZE, build_vggish

RANDOM_WEIGHTS = "random"
# `precision` values: float32, or the backbones' matrix products in
# bfloat16 (CPUs with bf16 units, GPUs) or float16 (GPUs); weights stay
# float32 (Keras' mixed policies), features are float32 either way.
PRECISIONS = ("float32", "bfloat16", "float16")
POLICIES = {"float32": "float32", "bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}
# Frames per VGG-19 pass when `batch_frames` is None: on a CPU the rate per
# frame hardly changes from 16 to 64 frames (benchmarks/bench_extract.py);
# a GPU needs bigger batches to fill.
CPU_BATCH_FRAMES = 64
GPU_BATCH_FRAMES = 256


def check_precision(precision, gpu=None, flags=None):
    """Refuses a `precision` that is unknown or would be emulated here.

    Args:
        precision: one of `PRECISIONS`.
        gpu: whether the backbones run on a GPU; None asks the backend.
        flags: the CPU's /proc/cpuinfo flags; None reads them.

    Raises:
        ValueError: an unknown value; bfloat16 on a CPU without bf16 units
            (none of `keras_avl.precision.BF16_CPU_FLAGS`); float16 on a CPU.

    Example:

    >>> check_precision("bfloat16", gpu=False, flags={"amx_bf16"})
    'bfloat16'
    """
    from keras_avl.precision import BF16_CPU_FLAGS, cpu_flags, has_gpu

    if precision not in PRECISIONS:
        raise ValueError(
            f"--precision (`precision`) must be one of {', '.join(PRECISIONS)}; received {precision!r}."
        )
    if precision == "float32":
        return precision
    gpu = has_gpu() if gpu is None else gpu
    if gpu:
        return precision
    if precision == "float16":
        raise ValueError(
            "--precision float16 needs a GPU: a CPU computes float16 convolutions slowly "
            "(emulated); use --precision bfloat16 on a CPU with bf16 units, else float32."
        )
    flags = cpu_flags() if flags is None else flags
    if flags is not None and not set(BF16_CPU_FLAGS) & flags:
        raise ValueError(
            f"--precision bfloat16 on a CPU needs bfloat16 units (one of the flags "
            f"{BF16_CPU_FLAGS} in /proc/cpuinfo), which this CPU lacks: bfloat16 would be "
            "emulated, slower than float32. Use --precision float32."
        )
    import keras

    if keras.backend.backend() != "tensorflow":
        warnings.warn(
            f"--precision bfloat16 on the {keras.backend.backend()} backend's CPU: only "
            "TensorFlow (oneDNN) was measured to use the bfloat16 units "
            "(benchmarks/bench_extract.py); XLA's CPU code does not.",
            stacklevel=2,
        )
    return precision


def default_batch_frames(gpu=None):
    """Frames per VGG-19 pass sized to the machine: `GPU_BATCH_FRAMES` on a
    GPU, `CPU_BATCH_FRAMES` on a CPU."""
    from keras_avl.precision import has_gpu

    return GPU_BATCH_FRAMES if (has_gpu() if gpu is None else gpu) else CPU_BATCH_FRAMES


class FeatureExtractor:
    """Both backbones, loaded once: visual (T, 7, 7, 512) pool5 averaged per
    segment, audio (T, 128) VGGish embeddings; padded segments are zeros.

    Args:
        visual_weights: `"imagenet"`, a VGG-19 no-top weights file, or
            `"random"` / None (random weights, for tests and benchmarks).
        vggish_weights: `vggish_model.ckpt` / a `.weights.h5` file, or
            `"random"` (required: there is no download for VGGish).
        embedding_relu: ReLU on the VGGish embedding (AVE's features have it).
        batch_size: frames per VGG-19 forward pass; None sizes it to the
            machine (`default_batch_frames`).
        precision: `"float32"`, `"bfloat16"` (CPUs with bf16 units, GPUs) or
            `"float16"` (GPUs): the compute dtype of both backbones (weights
            and features stay float32); see `check_precision`.

    Example:

    >>> from keras_avl.features import read_clips
    >>> extractor = FeatureExtractor("imagenet", "vggish_model.ckpt")  # doctest: +SKIP
    >>> visual, audio = extractor(next(read_clips("clip.mp4")))  # doctest: +SKIP
    >>> visual.shape, audio.shape  # doctest: +SKIP
    ((10, 7, 7, 512), (10, 128))
    """

    def __init__(self, visual_weights, vggish_weights, embedding_relu=True, batch_size=None,
                 precision="float32"):
        from keras_avl.precision import precision_policy
        from keras_avl.validation import check_positive_int

        if vggish_weights is None:
            raise ValueError(
                "`vggish_weights` is required: vggish_model.ckpt of the AudioSet release "
                "(https://storage.googleapis.com/audioset/vggish_model.ckpt), a .weights.h5 "
                "file, or 'random' (tests only); received None."
            )
        self.precision = check_precision(precision)
        self.batch_size = default_batch_frames() if batch_size is None else check_positive_int(
            "batch_frames", batch_size)

        def weights(value):
            return None if value in (None, RANDOM_WEIGHTS) else value

        # mixed_bfloat16 / mixed_float16 (POLICIES): float32 variables, the
        # layers' computations in the 16-bit type.
        with precision_policy(precision != "float32", gpu=precision == "float16"):
            self.visual_model = build_vgg19_pool5(weights(visual_weights))
            self.audio_model = build_vggish(embedding_relu, weights(vggish_weights))

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
            features[valid] = np.asarray(self.audio_model.predict_on_batch(examples), np.float32)
        return features

    def __call__(self, clip):
        return self.visual(clip), self.audio(clip)

    def stream(self, items):
        """Features of many videos, the frames of several segments and videos
        in each VGG-19 pass of `batch_size` frames.

        Args:
            items: an iterable of `(key, clips)`, clips a list of `VideoClip`s.

        Yields:
            `(key, clips, features)` in the order of `items`, features a list
            of `(visual, audio)` per clip as `__call__` returns them, as soon
            as all frames of the item have been through VGG-19.
        """
        pending = collections.deque()  # [key, clips, frames, outputs, remaining]
        queued = collections.deque()  # (item, flat frames not yet computed)
        queued_frames = 0
        for key, clips in items:
            frames = [clip.frames[clip.mask > 0] for clip in clips]
            flat = [f.reshape((-1,) + f.shape[2:]) for f in frames]
            flat = np.concatenate(flat) if flat else np.zeros((0, 224, 224, 3), np.uint8)
            item = [key, clips, [f.shape[:2] for f in frames], [], len(flat)]
            pending.append(item)
            if len(flat):
                queued.append((item, flat))
                queued_frames += len(flat)
            while queued_frames >= self.batch_size:
                queued_frames -= self._run_batch(queued, self.batch_size)
            yield from self._finished(pending)
        while queued_frames:
            queued_frames -= self._run_batch(queued, min(self.batch_size, queued_frames))
        yield from self._finished(pending)

    def _run_batch(self, queued, size):
        """One VGG-19 pass on the next `size` queued frames; hands each item
        its part of the output."""
        parts, owners, taken = [], [], 0
        while taken < size:
            item, flat = queued[0]
            chunk = flat[:size - taken]
            parts.append(chunk)
            owners.append((item, len(chunk)))
            taken += len(chunk)
            if len(chunk) == len(flat):
                queued.popleft()
            else:
                queued[0] = (item, flat[len(chunk):])
        batch = np.concatenate(parts) if len(parts) > 1 else parts[0]
        output = np.asarray(self.visual_model.predict_on_batch(batch.astype(np.float32)), np.float32)
        start = 0
        for item, count in owners:
            item[3].append(output[start:start + count])
            item[4] -= count
            start += count
        return size

    def _finished(self, pending):
        while pending and pending[0][4] == 0:
            key, clips, shapes, outputs, _ = pending.popleft()
            per_frame = np.concatenate(outputs) if outputs else np.zeros((0,) + POOL5_SHAPE, np.float32)
            features, start = [], 0
            for clip, (segments, per_segment) in zip(clips, shapes):
                count = segments * per_segment
                visual = np.zeros((len(clip.mask),) + POOL5_SHAPE, np.float32)
                if count:
                    visual[clip.mask > 0] = per_frame[start:start + count].reshape(
                        (segments, per_segment) + POOL5_SHAPE).mean(axis=1)
                start += count
                features.append((visual, self.audio(clip)))
            yield key, clips, features
