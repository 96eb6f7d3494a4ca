"""How a classifier of the paper's model or A+V-att is assembled: its named inputs (`keras_avl.models.inputs`), the real-segment
mask, the model of its output and its compile."""

from keras_avl.models.compiling import compile_classifier
from keras_avl.models.inputs import model_inputs, real_segments
from keras_avl.models.optional_inputs import OptionalInputsModel


def classifier_model(config, name, outputs, compile=True, optimizer=None, loss=None):
    """The model `name` (e.g. `paper_supervised`) whose output is
    `outputs(config, inputs, mask)`; compiled by `compile_classifier` (with a
    protocol's `optimizer` and `loss` when given)."""
    inputs = model_inputs(config)
    model = OptionalInputsModel(inputs, outputs(config, inputs, real_segments(inputs)),
                                name=name)
    if compile:
        compile_classifier(model, config, optimizer, loss)
    return model
