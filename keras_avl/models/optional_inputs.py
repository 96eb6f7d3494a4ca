"""`OptionalInputsModel`: a functional model whose optional inputs may be
left out of a dict of inputs.

Keras 3 accepts `keras.Input(..., optional=True)` but still wants its key in
a dict of inputs (with the value None). The models of `keras_avl.models` take
`segment_mask` as such an input; this class fills in None for every optional
input a dict leaves out, so that `model.fit({"visual": v, "audio": a}, y)`
keeps working for clips without padding.
"""

import keras


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
        missing = {
            tensor.name: None
            for tensor in self.inputs
            if tensor._keras_history.operation.optional and tensor.name not in inputs
        }
        return {**inputs, **missing} if missing else inputs

    def __call__(self, inputs, *args, **kwargs):
        return super().__call__(self._with_optional_inputs(inputs), *args, **kwargs)

    def call(self, inputs, *args, **kwargs):
        # The JAX trainer's stateless calls reach `call` without `__call__`.
        return super().call(self._with_optional_inputs(inputs), *args, **kwargs)
