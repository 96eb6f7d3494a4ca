"""A label-free, localization-aware epoch selection for the unsupervised regime.

The unsupervised regime has no labels, so by default `train` keeps the epoch of
lowest validation loss. For the paper's model that loss can keep falling while
the spatial attention lambda (eq. 5) stops following the sound: AVTGML can be
satisfied through AVFB's LSTM branch, which carries the audio into s_v without
lambda (docs/reproducing_the_paper.md, "Unsupervised localization (AVTGML)").
`selection="audio-consistency"` keeps instead the epoch whose lambda is most
consistent over time *because of the video's own sound*, measured on the
validation videos' features only (no labels, no regions):

    C = mean over consecutive real val segments (t, t+1) of
        rho(lambda_t(v, a), lambda_t+1(v, a)) - rho(lambda_t(v, a'), lambda_t+1(v, a')),

where rho is the Pearson correlation of two maps over the H x W cells (0 when
a map is constant), and a' is the audio of another val video (the unsupervised
pipeline's `audio_negative`, drawn once, so every epoch is scored on the same
pairs); a segment counts when it is real in both videos.

Why: a sounding object stays where it is from one second to the next, so a map
that follows it is consistent over consecutive segments; with another video's
sound there is no such source to follow and the map is not. A map that ignores
the audio (a saliency map of the frames, or one that follows whatever visual
content changes) is as consistent with both sounds and scores 0. The first
term alone would reward such an audio-independent map; the audio dependence of
lambda alone (how much of its mass moves when the sound changes) grows with
the sharpness of lambda and kept rising while the faithful model's attention
drifted away from the object (the docs' section gives the per-epoch curves).
The correlation is invariant to the scale and offset of a map, so it applies
to AVFB's attention and to the contrastive baseline's cosine map alike.
"""

import keras
import numpy as np

from keras_avl.validation import check_choice

# The epoch selections of the unsupervised regime; the first is the default.
SELECTIONS = ("val-loss", "audio-consistency")
DEFAULT_SELECTION = SELECTIONS[0]
MONITOR = "val_audio_consistency"


def temporal_correlations(maps):
    """rho(map_t, map_t+1) of maps (N, T, ...) over their cells (every axis after
    the second), shape (N, T - 1); 0 where a map is constant.

    Example:

    >>> maps = np.array([[[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [3.0, 2.0, 1.0]]])
    >>> temporal_correlations(maps).round(6).tolist()
    [[1.0, -1.0]]
    """
    maps = np.asarray(maps, np.float64)
    flat = maps.reshape(maps.shape[:2] + (-1,))
    centred = flat - flat.mean(-1, keepdims=True)
    norms = np.sqrt((centred ** 2).sum(-1))
    products = (centred[:, 1:] * centred[:, :-1]).sum(-1)
    denominators = norms[:, 1:] * norms[:, :-1]
    return np.where(denominators > 0, products / np.maximum(denominators, 1e-300), 0.0)


def audio_consistency(attention, swapped, valid):
    """C: the mean, over consecutive segments both valid, of the temporal
    correlation of lambda with the video's own audio minus that with another
    video's audio (see the module).

    Args:
        attention: (N, T, H, W) lambda of every video with its own audio.
        swapped: (N, T, H, W) lambda of the same videos with another video's
            audio.
        valid: (N, T), nonzero where the segment is real in both videos.

    Example:

    >>> own = np.array([[[0.6, 0.2, 0.2], [0.5, 0.3, 0.2]]])
    >>> other = np.array([[[0.6, 0.2, 0.2], [0.2, 0.2, 0.6]]])
    >>> round(audio_consistency(own, other, np.ones((1, 2))), 6)  # 0.944911 - (-0.5)
    1.444911
    """
    valid = np.asarray(valid) != 0
    pairs = valid[:, 1:] & valid[:, :-1]
    if not pairs.any():
        raise ValueError("audio_consistency needs two consecutive segments real in both "
                         "videos; `valid` has none.")
    difference = temporal_correlations(attention) - temporal_correlations(swapped)
    return float(difference[pairs].mean())


def check_selection(selection, regime):
    """The (monitor, mode) of a non-default `selection` for `regime`, None for
    the regime's default; a clear ValueError where it cannot apply."""
    check_choice("selection", selection, SELECTIONS)
    if selection == DEFAULT_SELECTION:
        return None
    if regime != "unsupervised":
        raise ValueError(
            f"selection={selection!r} is a label-free selection for the unsupervised "
            f"regime; the {regime!r} regime selects its epoch on the labels it trains "
            f"on (use selection={DEFAULT_SELECTION!r})."
        )
    return MONITOR, "max"


def _check_attention(model):
    """A ValueError saying why `model` has no spatial map that the audio can
    change (none at all, or AVFB without its MFB attention)."""
    from keras_avl.models.inference import SPATIAL_ATTENTION_LAYERS

    names = {layer.name: layer for layer in model.layers}
    if not any(name in names for name in SPATIAL_ATTENTION_LAYERS):
        raise ValueError(
            "selection='audio-consistency' scores the spatial attention lambda; "
            f"model {model.name!r} has none (expected one of the layers "
            f"{SPATIAL_ATTENTION_LAYERS}). Use selection='val-loss'."
        )
    avfb = names.get("avfb")
    if avfb is not None and not avfb.uses_mfb:
        raise ValueError(
            "selection='audio-consistency' needs AVFB's MFB attention lambda; model "
            f"{model.name!r} uses fusion={avfb.fusion!r}, whose lambda is uniform "
            "whatever the audio. Use selection='val-loss' or fusion 'avfb'/'mfb'."
        )


class AudioConsistency(keras.callbacks.Callback):
    """Adds `val_audio_consistency` (C, see the module) to the epoch's logs,
    for `BestCheckpoint` / `RunMetrics` to select and record; it must come
    before them in the callback list.

    Args:
        batches: the val inputs, a list of dicts of arrays with `visual`,
            `audio`, `segment_mask`, `audio_negative` and
            `segment_mask_negative` (see `val_batches`); the same every epoch.

    Example:

    >>> AudioConsistency([]).monitor
    'val_audio_consistency'
    """

    monitor = MONITOR

    def __init__(self, batches):
        super().__init__()
        self.batches = list(batches)
        self._inference = None

    def on_train_begin(self, logs=None):
        from keras_avl.models import inference_model

        _check_attention(self.model)
        self._inference = inference_model(self.model)

    def _attention(self, inputs):
        return self._inference.predict_on_batch(inputs)["spatial_attention"]

    def score(self):
        """C of the model in its current state, on `batches`."""
        own, swapped, valid = [], [], []
        for inputs in self.batches:
            own.append(self._attention(inputs))
            swapped.append(self._attention({**inputs, "audio": inputs["audio_negative"]}))
            valid.append((inputs["segment_mask"] != 0) & (inputs["segment_mask_negative"] != 0))
        return audio_consistency(*(np.concatenate(x) for x in (own, swapped, valid)))

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs[self.monitor] = self.score()


def val_batches(data, batch_size, seed):
    """The val split's unsupervised inputs as NumPy batches, read once: the
    negative audio is any other val video's (never chosen with labels), drawn
    with `seed`."""
    from keras_avl.data import make_dataset

    dataset = make_dataset(data, "val", "unsupervised", batch_size, shuffle=False,
                           seed=seed, negative_sampling="any-video")
    return [inputs for inputs, _ in dataset]


def selection_callbacks(selection, model, data, batch_size, seed):
    """The callbacks that add the monitored value of `selection` to the
    epoch's logs: none for the default, `[AudioConsistency]` scoring the val
    split of `data` for `"audio-consistency"`, after checking that `model` has
    a spatial map that the audio can change (a clear ValueError otherwise)."""
    if check_choice("selection", selection, SELECTIONS) == DEFAULT_SELECTION:
        return []
    _check_attention(model)
    return [AudioConsistency(val_batches(data, batch_size, seed))]
