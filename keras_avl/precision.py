"""Mixed precision: the Keras dtype policy behind `--mixed-precision`.

float16 on a GPU (with Keras' automatic loss scaling), bfloat16 on a CPU (same
exponent range as float32, so no loss scaling). The numerically delicate parts
of the paper's model stay in float32 under either policy: the softmaxes of
eqs. 5 and 10, the signed square root and L2 normalisation of eq. 4
(`keras_avl.numerics`), the Gram normalisation of eq. 14 and the classifier's
softmax; this module only chooses and sets the policy.
"""

import contextlib

import keras

FLOAT32_POLICY = "float32"


def has_gpu():
    """Whether the active Keras backend sees a GPU."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return bool(tf.config.list_physical_devices("GPU"))
    if backend == "jax":
        import jax

        return any(device.platform == "gpu" for device in jax.devices())
    if backend == "torch":
        import torch

        return torch.cuda.is_available()
    return False


def mixed_precision_policy_name(gpu=None):
    """`"mixed_float16"` on a GPU, `"mixed_bfloat16"` on a CPU.

    Args:
        gpu: whether to choose for a GPU; None asks the backend (`has_gpu`).

    Example:

    >>> mixed_precision_policy_name(gpu=False)
    'mixed_bfloat16'
    >>> mixed_precision_policy_name(gpu=True)
    'mixed_float16'
    """
    if gpu is None:
        gpu = has_gpu()
    return "mixed_float16" if gpu else "mixed_bfloat16"


@contextlib.contextmanager
def precision_policy(mixed_precision=False, gpu=None):
    """Sets Keras' global dtype policy for the models built inside the block.

    Restores the previous policy on exit. Build (and compile) the model inside
    the block: the policy is read when layers are created.

    Args:
        mixed_precision: False keeps float32; True chooses the policy with
            `mixed_precision_policy_name`.
        gpu: passed to `mixed_precision_policy_name`.

    Yields:
        The name of the policy in force.

    Example:

    >>> import keras
    >>> with precision_policy(True, gpu=False) as name:
    ...     layer = keras.layers.Dense(2)
    >>> name, layer.compute_dtype, layer.variable_dtype
    ('mixed_bfloat16', 'bfloat16', 'float32')
    >>> keras.mixed_precision.dtype_policy().name
    'float32'
    """
    name = mixed_precision_policy_name(gpu) if mixed_precision else FLOAT32_POLICY
    previous = keras.mixed_precision.dtype_policy()
    keras.mixed_precision.set_global_policy(name)
    try:
        yield name
    finally:
        keras.mixed_precision.set_global_policy(previous)
