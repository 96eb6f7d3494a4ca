"""`AVEBatches`: the batches of one split as a `keras.utils.PyDataset`
(NumPy only, for every Keras backend), made by
`keras_avl.data.make_dataset`. In a module of its own, imported when a
dataset is made, so that importing `keras_avl.data` (the generator, the
loader) does not import Keras and its backend."""

import h5py
import keras
import numpy as np

from keras_avl.data.ave_dataset import FEATURE_KEY
from keras_avl.data.pipeline import negative_indices, other_class_indices


class AVEBatches(keras.utils.PyDataset):
    """The `(inputs, targets)` batches of one split: a `keras.utils.PyDataset`.

    Built by `make_dataset` (see it for the arguments and the batches).
    `batches[i]` is batch i of the current pass; a pass begins at
    `on_epoch_begin` (Keras calls it as each epoch of `fit`, `evaluate` or
    `predict` begins; iterating `batches` begins one too) and draws its
    shuffle order and negative audio from `numpy.random.default_rng([seed,
    index])`, index the pass's. `close()` lets go of the split's arrays and
    files (TensorFlow's `fit` keeps every dataset it read in its global graph
    until `keras.backend.clear_session()`).

    Example:

    >>> import tempfile
    >>> from keras_avl.data import generate_dataset, load_ave, make_dataset
    >>> data = load_ave(generate_dataset(tempfile.mkdtemp() + "/ave", size="tiny"))
    >>> batches = make_dataset(data, "test", "supervised", batch_size=3)
    >>> len(batches), batches[2][0]["audio"].shape
    (3, (2, 10, 8))
    """

    def __init__(self, sources, audio, masks, targets, rows, row_shape, batch_size,
                 shuffle, seed, pass_index, negatives, classes):
        super().__init__()
        self._sources, self._audio, self._masks = sources, audio, masks
        self._targets, self._rows, self._row_shape = targets, rows, row_shape
        self._batch_size, self._shuffle, self._seed = batch_size, shuffle, seed
        self._pass_index, self._negatives, self._classes = pass_index, negatives, classes
        self._files = {}
        # Without `pass_index`, counts completed passes only: a pass begun
        # and abandoned (Keras' distributed fit peeks at one batch for the
        # input shapes) must not shift the shuffle order of the passes that
        # follow.
        self._completed_passes = 0
        self._open = False  # whether a pass has begun and not ended
        self._drawn = None  # (pass index, items, negative items)
        self._fresh = False  # drawn outside a pass, for the next one

    def __len__(self):
        return -(-len(self._sources) // self._batch_size)

    def _draw(self, new_pass=False):
        """The items (and negatives) of the current pass. A pass draws them
        once as it begins; a batch read outside a pass (Keras' TensorFlow
        adapter reads two for the shapes) draws them for the index that the
        next pass will have, and that pass takes them over."""
        index = self._completed_passes if self._pass_index is None else self._pass_index()
        if self._drawn is None or self._drawn[0] != index or (new_pass and not self._fresh):
            n = len(self._sources)
            rng = np.random.default_rng([self._seed, index])
            items = rng.permutation(n) if self._shuffle else np.arange(n)
            if self._classes is not None:
                negative = items[other_class_indices(rng, self._classes[items])]
            elif self._negatives:
                negative = items[negative_indices(rng, n)]
            else:
                negative = None
            self._drawn = (index, items, negative)
        self._fresh = not new_pass
        return self._drawn

    def on_epoch_begin(self):
        self._draw(new_pass=True)
        self._open = True

    def on_epoch_end(self):
        if self._open and self._pass_index is None:
            self._completed_passes += 1
        self._open = False
        self._close_files()

    def __iter__(self):
        """One pass, begun and (when run to its end) ended."""
        self.on_epoch_begin()
        for index in range(len(self)):
            yield self[index]
        self.on_epoch_end()

    def __getitem__(self, index):
        if not 0 <= index < len(self):
            raise IndexError(f"Batch index {index} out of range for {len(self)} batches.")
        if self._audio is None:
            raise RuntimeError("These batches were closed (`close()`); make a new dataset.")
        _, items, negative = self._drawn if self._open else self._draw()
        start = index * self._batch_size
        batch = items[start : start + self._batch_size]
        if self._rows is not None:
            visual = self._rows[batch]
        else:
            visual = np.empty((len(batch),) + self._row_shape, np.float32)
            for k, item in enumerate(batch):
                path, row = self._sources[item]
                if path not in self._files:
                    self._files[path] = h5py.File(path, "r")[FEATURE_KEY]
                # HDF5 converts float64 files (AVE's release) to float32 here.
                self._files[path].read_direct(visual, np.s_[row], np.s_[k])
        inputs = {"visual": visual, "audio": self._audio[batch],
                  "segment_mask": self._masks[batch]}
        if negative is not None:
            other = negative[start : start + self._batch_size]
            inputs["audio_negative"] = self._audio[other]
            inputs["segment_mask_negative"] = self._masks[other]
        return inputs, self._targets[batch]

    def _close_files(self):
        for dataset in self._files.values():
            dataset.file.close()
        self._files = {}

    def close(self):
        """Lets go of the split's arrays, open files and `pass_index`."""
        self._close_files()
        self._audio = self._masks = self._targets = self._rows = None
        self._sources, self._pass_index, self._drawn = [], None, None

    def map(self, function, batches=None):
        """These batches through `function(inputs, targets) -> batch`
        (NumPy in, NumPy out), the first `batches` of each pass (default:
        all): a `MappedBatches`."""
        return MappedBatches(self, function, batches)


class MappedBatches(keras.utils.PyDataset):
    """The batches of an `AVEBatches` through a function (`AVEBatches.map`).

    Args:
        source: the `AVEBatches` (or `MappedBatches`) read.
        function: `(inputs, targets) -> batch`, applied to each batch.
        batches: how many of the source's batches a pass has (default all).

    Example:

    >>> import tempfile
    >>> from keras_avl.data import generate_dataset, load_ave, make_dataset
    >>> data = load_ave(generate_dataset(tempfile.mkdtemp() + "/ave", size="tiny"))
    >>> inputs = make_dataset(data, "test", "weak", batch_size=3).map(lambda x, y: x)
    >>> len(inputs), sorted(inputs[0])
    (3, ['audio', 'segment_mask', 'visual'])
    """

    def __init__(self, source, function, batches=None):
        super().__init__()
        self._source, self._function = source, function
        self._batches = len(source) if batches is None else batches
        if not 0 <= self._batches <= len(source):
            raise ValueError(
                f"`batches` must be between 0 and the {len(source)} batches of the "
                f"source; received batches={batches!r}."
            )

    def __len__(self):
        return self._batches

    def __getitem__(self, index):
        if not 0 <= index < len(self):
            raise IndexError(f"Batch index {index} out of range for {len(self)} batches.")
        return self._function(*self._source[index])

    def on_epoch_begin(self):
        self._source.on_epoch_begin()

    def on_epoch_end(self):
        self._source.on_epoch_end()

    __iter__ = AVEBatches.__iter__

    def close(self):
        """Closes the source (`AVEBatches.close`)."""
        self._source.close()

    def map(self, function, batches=None):
        """As `AVEBatches.map`."""
        return MappedBatches(self, function, batches)
