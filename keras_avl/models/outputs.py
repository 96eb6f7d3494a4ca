"""The output layers of the models: named, in float32 also under a
mixed-precision policy."""

import keras

from keras_avl.layers import MILPooling


def softmax_output(name):
    """A float32 softmax over the last axis named `name` (an `Activation`,
    through which a segment mask passes untouched)."""
    return keras.layers.Activation("softmax", dtype="float32", name=name)


def float32_output(name):
    """The identity in float32, naming an output `name`."""
    return keras.layers.Activation("linear", dtype="float32", name=name)


def segment_classifier(num_classes):
    """The last layer of the classifiers (§3.6): Dense C + softmax per segment,
    in float32, named `segment_probabilities`."""
    return keras.layers.Dense(num_classes, activation="softmax", dtype="float32",
                              name="segment_probabilities")


def max_pooled_softmax(logits, mask):
    """The weak video prediction of the released A+V-att (`models_weakly.py`):
    the softmax of the segment scores (B, T, C) max-pooled over the real
    segments (layers `video_logits`, `video_probabilities`)."""
    video_logits = MILPooling(pooling="max", name="video_logits")(logits, mask=mask)
    return softmax_output("video_probabilities")(video_logits)
