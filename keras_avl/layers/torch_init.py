"""PyTorch's default initialisations, for the models whose released code
relies on them (A+V-att, github:YapengTian/AVE-ECCV18; PSP,
github:jasongief/PSP_CVPR_2021; CMBS, github:marmot-xy/CMBS): `nn.Linear`, `nn.Conv1d` and `nn.LSTM` draw
their weights and biases from U(-1/sqrt(fan_in), 1/sqrt(fan_in))
(`kaiming_uniform_(a=sqrt(5))` for the linear weights gives that bound).

Each call returns a new initializer: an unseeded Keras initializer fixes its
seed when created, so one instance shared by two weights of one shape would
give them equal values.
"""

import math

import keras


def torch_uniform(fan_in):
    """U(-1/sqrt(fan_in), 1/sqrt(fan_in)): PyTorch's `nn.Linear` bias and every
    `nn.LSTM` weight (with fan_in = hidden size)."""
    bound = 1.0 / math.sqrt(fan_in)
    return keras.initializers.RandomUniform(-bound, bound)


def torch_linear_kernel():
    """PyTorch's `nn.Linear` / `nn.Conv1d` weight, U(+-1/sqrt(fan_in)), with the
    fan-in read from the kernel's shape."""
    return keras.initializers.VarianceScaling(1.0 / 3.0, "fan_in", "uniform")


def torch_dense(units, fan_in, use_bias=True, **kwargs):
    """A `keras.layers.Dense` initialised as PyTorch's `nn.Linear(fan_in, units)`."""
    bias = torch_uniform(fan_in) if use_bias else "zeros"
    return keras.layers.Dense(units, use_bias=use_bias, kernel_initializer=torch_linear_kernel(),
                              bias_initializer=bias, **kwargs)


def torch_lstm(units, name=None):
    """A Keras LSTM (sequences out) initialised as PyTorch's `nn.LSTM`:
    U(+-1/sqrt(units)) for the kernels and the bias, each drawn by its own
    initializer. PyTorch has two biases (b_ih + b_hh), Keras one, drawn from
    the same U; no forget-gate bias of 1.

    Example:

    >>> torch_lstm(4, "lstm").unit_forget_bias
    False
    """
    return keras.layers.LSTM(units, return_sequences=True, kernel_initializer=torch_uniform(units),
                             recurrent_initializer=torch_uniform(units),
                             bias_initializer=torch_uniform(units), unit_forget_bias=False,
                             name=name)
