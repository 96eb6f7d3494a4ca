"""A label-free, localization-aware epoch selection for the unsupervised regime.

The unsupervised regime has no labels, so by default `train` keeps the epoch of
lowest validation AVTGML loss. That loss can fall while the spatial attention
lambda (eq. 5) stops following the sound: AVTGML can be satisfied through
AVFB's LSTM branch, which carries the audio into s_v without lambda
(docs/reproducing_the_paper.md, "Unsupervised localization (AVTGML)").
`selection="audio-dependence"` keeps instead the epoch whose lambda depends
most on the audio, measured on the validation videos' features only (no
labels, no regions):

    D = mean over real val segments (v_t, a_t) of TV(lambda(v_t, a_t), lambda(v_t, a'_t)),
    TV(p, q) = 1/2 sum_s |p_s - q_s|,

where a' is the audio of another val video (the unsupervised pipeline's
`audio_negative`, drawn once, so every epoch is scored on the same pairs) and
a segment counts when it is real in both videos. D is the share of lambda's
mass that moves when the sound changes: 0 for an attention that ignores the
audio (uniform, or a saliency map of the frame), 1 for maps that put all their
mass on disjoint cells for the two sounds. A map that localizes the sounding
object is concentrated on it and moves away when another video's sound plays.
"""

import keras
import numpy as np

from keras_avl.validation import check_choice

# The epoch selections of the unsupervised regime; the first is the default.
SELECTIONS = ("val-loss", "audio-dependence")
DEFAULT_SELECTION = SELECTIONS[0]
MONITOR = "val_audio_dependence"


def audio_dependence(attention, swapped, valid):
    """D: the mean total variation 1/2 sum_s |lambda_s(v, a) - lambda_s(v, a')|
    over the segments where `valid` is nonzero.

    Args:
        attention: (N, T, H, W) lambda of every video with its own audio.
        swapped: (N, T, H, W) lambda of the same videos with another video's
            audio.
        valid: (N, T), nonzero where the segment is real in both videos.

    Example:

    >>> own = np.full((1, 2, 1, 2), 0.5); own[0, 0] = [[1.0, 0.0]]
    >>> other = np.full((1, 2, 1, 2), 0.5); other[0, 0] = [[0.0, 1.0]]
    >>> audio_dependence(own, other, np.array([[1, 1]]))
    0.5
    """
    valid = np.asarray(valid) != 0
    if not valid.any():
        raise ValueError("audio_dependence needs at least one segment real in both "
                         "videos; `valid` is zero everywhere.")
    difference = np.abs(np.asarray(attention, np.float64) - np.asarray(swapped, np.float64))
    distance = 0.5 * difference.reshape(difference.shape[:2] + (-1,)).sum(-1)
    return float(distance[valid].mean())


def check_selection(selection, regime):
    """`selection` if the regime can select its epoch with it; a clear
    ValueError otherwise. Returns the (monitor, mode) of a non-default
    selection, None for the regime's default."""
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
    """A ValueError saying why `model` has no AVFB attention lambda that is a
    distribution over the regions and depends on the audio."""
    layer = next((layer for layer in model.layers if layer.name == "avfb"), None)
    if layer is None:
        similarity = any(layer.name == "audio_visual_similarity" for layer in model.layers)
        found = ("a cosine similarity map (the contrastive baseline), not an attention "
                 "distribution" if similarity else "no spatial attention")
        raise ValueError(
            "selection='audio-dependence' compares the spatial attention lambda of "
            f"AVFB (a distribution over the regions) for two sounds; model "
            f"{model.name!r} has {found}. Use selection='val-loss'."
        )
    if not layer.uses_mfb:
        raise ValueError(
            "selection='audio-dependence' needs AVFB's MFB attention lambda; model "
            f"{model.name!r} uses fusion={layer.fusion!r}, whose lambda is uniform "
            "whatever the audio. Use selection='val-loss' or fusion 'avfb'/'mfb'."
        )


class AudioDependence(keras.callbacks.Callback):
    """Adds `val_audio_dependence` (D, see the module) to the epoch's logs,
    for `BestCheckpoint` / `RunMetrics` to select and record; it must come
    before them in the callback list.

    Args:
        batches: the val inputs, a list of dicts of arrays with `visual`,
            `audio`, `segment_mask`, `audio_negative` and
            `segment_mask_negative` (see `val_batches`); the same every epoch.

    Example:

    >>> callback = AudioDependence([])
    >>> callback.monitor
    'val_audio_dependence'
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
        """D of the model in its current state, on `batches`."""
        own, swapped, valid = [], [], []
        for inputs in self.batches:
            own.append(self._attention(inputs))
            swapped.append(self._attention({**inputs, "audio": inputs["audio_negative"]}))
            valid.append((inputs["segment_mask"] != 0) & (inputs["segment_mask_negative"] != 0))
        return audio_dependence(*(np.concatenate(x) for x in (own, swapped, valid)))

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
    return [{key: value.numpy() for key, value in inputs.items()} for inputs, _ in dataset]


def selection_callbacks(selection, model, data, batch_size, seed):
    """The callbacks that add the monitored value of `selection` to the
    epoch's logs: none for the default, `[AudioDependence]` scoring the val
    split of `data` for `"audio-dependence"`, after checking that `model` has
    an AVFB attention to score (a clear ValueError otherwise: a model without
    spatial attention, a fusion without MFB, the contrastive baseline)."""
    if check_choice("selection", selection, SELECTIONS) == DEFAULT_SELECTION:
        return []
    _check_attention(model)
    return [AudioDependence(val_batches(data, batch_size, seed))]
