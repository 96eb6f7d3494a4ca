"""How the compiled train step runs: XLA or the backend's own kernels, and
batches per call.

Keras compiles the step with XLA on JAX and on a TensorFlow GPU, not on a
CPU-only TensorFlow. There XLA makes `paper`'s step faster once compiled
(`benchmarks/results/train_cpu_tensorflow_dv64_paper.json`, steady state at
d_v = 64 on a 2-core Xeon: 1.34x under load; 1.3-1.5x in a side
measurement on a quiet machine;
`avatt` about even, 1.03x), but compiling costs tens of seconds per batch
shape (the last, smaller batch of a split is a shape of its own): a 240-step
`keras-avl train` of `paper` took 108.5 s with XLA against 131.4 s without.
So `jit_compile=None` ("auto") takes XLA on a CPU-only TensorFlow when a run
trains at least `XLA_MIN_STEPS` steps, and TensorFlow's kernels for shorter
runs (quick checks, tests).

Determinism: TensorFlow's op determinism (`keras_avl.determinism`) and XLA
exclude each other in Keras (it drops XLA while op determinism is on); XLA's
CPU programs are deterministic by themselves, so a deterministic XLA run
leaves op determinism off. Op determinism cannot be turned off within a
process: there, once on, "auto" keeps TensorFlow's kernels and an explicit
`jit_compile=True` is refused with a clear error.
"""

import keras

from keras_avl.validation import check_positive_int

# About twice the break-even of `paper` on the 2-core CPU: the 240-step run
# above saved 23 s, i.e. about 0.16 s a step once ~15 s of compiling are paid
# (a deterministic XLA run also spares TensorFlow's deterministic kernels), so
# compiling pays back after ~100 steps.
XLA_MIN_STEPS = 200


def op_determinism_enabled():
    """Whether TensorFlow's op determinism is on in this process."""
    from tensorflow.python.framework.config import is_op_determinism_enabled

    return is_op_determinism_enabled()


def _tensorflow_cpu_only():
    if keras.backend.backend() != "tensorflow":
        return False
    import tensorflow as tf

    return not tf.config.list_logical_devices("GPU")


def resolve_jit_compile(jit_compile, train_steps):
    """Whether XLA compiles the train step of a run of `train_steps` steps.

    Args:
        jit_compile: True/False as asked, or None ("auto"): XLA on JAX and on
            a TensorFlow GPU (Keras' choice), and on a CPU-only TensorFlow
            when `train_steps >= XLA_MIN_STEPS` and op determinism is off;
            on PyTorch eager (True asks for `torch.compile`).
        train_steps: the steps the run trains (epochs x steps per epoch).

    Returns:
        True or False.

    Raises:
        ValueError: `jit_compile=True` on TensorFlow while op determinism is
            on in this process (Keras would silently drop XLA).

    Example:

    >>> resolve_jit_compile(False, 10_000)
    False
    """
    tensorflow = keras.backend.backend() == "tensorflow"
    if jit_compile is None and keras.backend.backend() == "torch":
        # torch.compile (Keras' jit_compile on torch) recompiles for every batch
        # shape and floods the terminal with dynamo warnings: eager by default.
        return False
    if jit_compile is None:
        if not _tensorflow_cpu_only():
            return True
        return train_steps >= XLA_MIN_STEPS and not op_determinism_enabled()
    if jit_compile and tensorflow and op_determinism_enabled():
        raise ValueError(
            "jit_compile=True (--jit-compile on) cannot run in this process: "
            "TensorFlow's op determinism was turned on by an earlier run without "
            "XLA, and Keras drops XLA under it. Train in a new process, or pass "
            "jit_compile=False."
        )
    return bool(jit_compile)


def configure_train_step(model, jit_compile=None, steps_per_execution=1):
    """Sets how a compiled model's train step runs, before its first `fit`.

    Args:
        model: a compiled Keras model.
        jit_compile: True/False: whether XLA compiles the step; None keeps
            the model's (Keras' "auto"; `resolve_jit_compile` is keras-avl's).
        steps_per_execution: batches per call of the compiled step.

    Example:

    >>> import keras
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> model.compile("sgd", "mse")
    >>> configure_train_step(model, jit_compile=False, steps_per_execution=4)
    >>> model.jit_compile, model.steps_per_execution
    (False, 4)
    """
    steps_per_execution = check_positive_int("steps_per_execution", steps_per_execution)
    if jit_compile is not None:
        model.jit_compile = bool(jit_compile)
    model.steps_per_execution = steps_per_execution
    # Traced again at the next fit with these settings.
    model.train_function = model.test_function = model.predict_function = None
