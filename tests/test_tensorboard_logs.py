"""The run's TensorBoard logs (`keras.callbacks.TensorBoard`, as `train`
writes them): every finished epoch's scalars are on disk when the epoch ends,
so that a killed run keeps them. Keras does not flush its writers itself;
TensorFlow flushes a summary writer when its `as_default()` block ends, which
Keras' epoch logging opens. This test guards that behaviour across versions
(a summary writer otherwise buffers for up to two minutes)."""

import importlib.util

import keras
import numpy as np
import pytest


pytestmark = [
    pytest.mark.upstream,
    pytest.mark.skipif(importlib.util.find_spec("tensorflow") is None,
                       reason="TensorBoard writes through TensorFlow"),
]


def _scalars(log_dir):
    import tensorflow as tf

    scalars = {}
    for path in sorted(log_dir.rglob("events.out.tfevents.*")):
        for record in tf.data.TFRecordDataset(str(path)):
            event = tf.compat.v1.Event.FromString(record.numpy())
            for value in event.summary.value:
                if value.tag.startswith("epoch_"):
                    scalars[(path.parent.name, value.tag, event.step)] = float(
                        tf.make_ndarray(value.tensor)
                    )
    return scalars


def test_epoch_scalars_are_on_disk_when_the_epoch_ends(tmp_path):
    seen = []

    class ReadBack(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append((epoch, dict(logs), _scalars(tmp_path)))

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(0.01), "mse")
    x, y = np.ones((8, 2), "float32"), np.zeros((8, 1), "float32")
    model.fit(x, y, validation_data=(x, y), epochs=2, verbose=0,
              callbacks=[keras.callbacks.TensorBoard(str(tmp_path)), ReadBack()])
    for epoch, logs, scalars in seen:
        assert scalars[("train", "epoch_loss", epoch)] == pytest.approx(logs["loss"])
        assert scalars[("validation", "epoch_loss", epoch)] == pytest.approx(logs["val_loss"])
        assert scalars[("train", "epoch_learning_rate", epoch)] == pytest.approx(0.01)
    assert len(seen) == 2
