"""The output layers of the models of several outputs (PSP, CMBS): named
activations in float32, also under a mixed-precision policy."""

import keras


def softmax_output(name):
    """A float32 softmax over the last axis named `name` (an `Activation`,
    through which a segment mask passes untouched)."""
    return keras.layers.Activation("softmax", dtype="float32", name=name)


def float32_output(name):
    """The identity in float32, naming an output `name`."""
    return keras.layers.Activation("linear", dtype="float32", name=name)
