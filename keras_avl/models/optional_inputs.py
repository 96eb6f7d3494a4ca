"""`OptionalInputsModel`: a functional model whose optional inputs may be
left out of a dict of inputs.

Keras 3 accepts `keras.Input(..., optional=True)` but still wants its key in
a dict of inputs (with the value None). The models of `keras_avl.models` take
`segment_mask` as such an input; this class fills in None for every optional
input a dict leaves out, so that `model.fit({"visual": v, "audio": a}, y)`
keeps working for clips without padding.

Its train, test and predict steps also tell `keras_avl.ops.fused_mfb` whether
Keras traces them into an XLA program (`model.jit_compile`), so that the
fused MFB kernel joins that program instead of nesting its own.
"""

import keras

from keras_avl.ops import xla_program


@keras.saving.register_keras_serializable(package="keras_avl")
class OptionalInputsModel(keras.Model):
    """A functional `keras.Model` (same constructor) whose optional inputs may
    be missing from a dict of inputs: they are passed as None.

    Example:

    >>> import numpy as np
    >>> x = keras.Input((2,), name="x")
    >>> scale = keras.Input((1,), name="scale", optional=True)
    >>> model = OptionalInputsModel({"x": x, "scale": scale}, keras.layers.Dense(1)(x))
    >>> model.predict({"x": np.zeros((3, 2))}, verbose=0).shape
    (3, 1)
    """

    def _with_optional_inputs(self, inputs):
        if not isinstance(inputs, dict):
            return inputs
        # A functional model lists its `keras.layers.InputLayer`s among its
        # layers; `optional` is what `keras.Input(optional=True)` set.
        missing = {
            layer.output.name: None
            for layer in self.layers
            if isinstance(layer, keras.layers.InputLayer)
            and layer.optional
            and layer.output.name not in inputs
        }
        return {**inputs, **missing} if missing else inputs

    def _xla_step(self):
        # Keras traces each step into a function compiled as `jit_compile`
        # says, unless it runs eagerly.
        return xla_program(bool(self.jit_compile) and not self.run_eagerly)

    def train_step(self, *args, **kwargs):
        with self._xla_step():
            return super().train_step(*args, **kwargs)

    def test_step(self, *args, **kwargs):
        with self._xla_step():
            return super().test_step(*args, **kwargs)

    def predict_step(self, *args, **kwargs):
        with self._xla_step():
            return super().predict_step(*args, **kwargs)

    def __call__(self, inputs, *args, **kwargs):
        return super().__call__(self._with_optional_inputs(inputs), *args, **kwargs)

    def call(self, inputs, *args, **kwargs):
        # The JAX trainer's stateless calls reach `call` without `__call__`.
        return super().call(self._with_optional_inputs(inputs), *args, **kwargs)
