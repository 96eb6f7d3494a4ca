"""Mixed precision: the Keras dtype policy behind `--mixed-precision`.

float16 on a GPU (with Keras' automatic loss scaling), bfloat16 on a CPU (same
exponent range as float32, so no loss scaling). The numerically delicate parts
of the paper's model stay in float32 under either policy: the softmaxes of
eqs. 5 and 10, the signed square root and L2 normalisation of eq. 4
(`keras_avl.numerics`), the Gram normalisation of eq. 14 and the classifier's
softmax; this module only chooses and sets the policy.
"""

import contextlib
import warnings

import keras

FLOAT32_POLICY = "float32"
# /proc/cpuinfo flags of CPUs that compute bfloat16 products in hardware:
# AVX512-BF16 dot products and AMX bf16 tile units (oneDNN uses either).
BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")


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


def cpu_flags(cpuinfo="/proc/cpuinfo"):
    """The CPU's feature flags from `cpuinfo` (a set; None where the file is
    missing, e.g. not Linux)."""
    try:
        with open(cpuinfo, encoding="utf-8") as lines:
            for line in lines:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        return None
    return set()


def check_mixed_precision(gpu=None, flags=None, backend=None):
    """Refuses `--mixed-precision` where it cannot pay, before training.

    On a CPU without bfloat16 hardware (none of `BF16_CPU_FLAGS`) bfloat16 is
    emulated and slower than float32: a `ValueError`. On the JAX backend's CPU
    (XLA's own CPU code does not use the bf16 matrix units) a warning.

    Args:
        gpu: whether the model trains on a GPU (float16 there: nothing to
            check); None asks the backend (`has_gpu`).
        flags: the CPU's flags; None reads them (`cpu_flags`). Unknown flags
            (no /proc/cpuinfo) are not refused.
        backend: the Keras backend; None: the active one.

    Returns:
        The bfloat16 flags the CPU has (a sorted list; empty on a GPU).

    Example:

    >>> check_mixed_precision(gpu=False, flags={"avx512_bf16", "sse2"},
    ...                       backend="tensorflow")
    ['avx512_bf16']
    """
    if gpu is None:
        gpu = has_gpu()
    if gpu:
        return []
    flags = cpu_flags() if flags is None else flags
    if flags is None:
        return []
    present = sorted(set(BF16_CPU_FLAGS) & flags)
    if not present:
        raise ValueError(
            "--mixed-precision trains in bfloat16 on a CPU, but this CPU has no "
            f"bfloat16 hardware (none of the flags {BF16_CPU_FLAGS} in "
            "/proc/cpuinfo): bfloat16 would be emulated, slower than float32. "
            "Train without --mixed-precision (mixed_precision=False)."
        )
    if (backend or keras.backend.backend()) == "jax":
        warnings.warn(
            "--mixed-precision on the JAX backend's CPU: XLA's CPU code does not "
            f"use the bfloat16 units ({', '.join(present)}) for matrix products, "
            "which run no faster than in float32 (benchmarks/bench_train.py); "
            "the TensorFlow backend uses them through oneDNN.",
            stacklevel=2,
        )
    return present


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


# Policies a training protocol may name (`Protocol.dtype_policy`): CMBS's code
# trains in float64 (`model.double()` in `supv_main.py` / `weakly_main.py`).
PROTOCOL_POLICIES = ("float64",)


@contextlib.contextmanager
def precision_policy(mixed_precision=False, gpu=None, policy=None):
    """Sets Keras' global dtype policy for the models built inside the block.

    Restores the previous policy on exit. Build (and compile) the model inside
    the block: the policy is read when layers are created.

    Args:
        mixed_precision: False keeps float32; True chooses the policy with
            `mixed_precision_policy_name`.
        gpu: passed to `mixed_precision_policy_name`.
        policy: None, or a policy of `PROTOCOL_POLICIES` ("float64": weights
            and computations in float64; the softmaxes stay at least float32,
            the models' outputs and losses are cast to float32), not together
            with `mixed_precision`.

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
    if policy is not None and (policy not in PROTOCOL_POLICIES or mixed_precision):
        raise ValueError(
            f"`policy` must be None or one of {PROTOCOL_POLICIES}, without mixed "
            f"precision; received policy={policy!r}, mixed_precision={mixed_precision!r}."
        )
    name = policy or (mixed_precision_policy_name(gpu) if mixed_precision else FLOAT32_POLICY)
    previous = keras.mixed_precision.dtype_policy()
    keras.mixed_precision.set_global_policy(name)
    try:
        yield name
    finally:
        keras.mixed_precision.set_global_policy(previous)
