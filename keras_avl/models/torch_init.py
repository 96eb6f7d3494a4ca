"""PyTorch's default initialisations, for the baselines whose released code
relies on them (A+V-att, github:YapengTian/AVE-ECCV18; PSP,
github:jasongief/PSP_CVPR_2021): an `nn.Linear` the code does not
re-initialise draws its weight with `kaiming_uniform_(a=sqrt(5))` and its bias
from U(-1/sqrt(fan_in), 1/sqrt(fan_in)), both the same U; an `nn.LSTM` draws
every weight and bias from U(-1/sqrt(hidden), 1/sqrt(hidden)).
"""

import math

import keras


def torch_uniform(fan_in):
    """U(-1/sqrt(fan_in), 1/sqrt(fan_in)): PyTorch's default `nn.Linear`
    weight and bias (fan_in = its input size) and `nn.LSTM` weights and biases
    (fan_in = its hidden size).

    Example:

    >>> torch_uniform(16).get_config()["maxval"]
    0.25
    """
    bound = 1.0 / math.sqrt(fan_in)
    return keras.initializers.RandomUniform(-bound, bound)


def torch_lstm(units, name):
    """A Keras LSTM (sequences out) initialised as PyTorch's `nn.LSTM`:
    U(+-1/sqrt(units)) for the kernels and the bias. PyTorch has two biases
    (b_ih + b_hh), Keras one, drawn from the same U; no forget-gate bias of 1.

    Example:

    >>> torch_lstm(4, "lstm").unit_forget_bias
    False
    """
    init = torch_uniform(units)
    return keras.layers.LSTM(units, return_sequences=True, kernel_initializer=init,
                             recurrent_initializer=init, bias_initializer=init,
                             unit_forget_bias=False, name=name)
