"""How the compiled train step runs: XLA or the backend's own kernels, and
batches per call.

One kernel choice per run, fixed by what the user asked (backend, device,
`jit_compile`) and by nothing else: not by the run's length, not by what ran
before in the process. So a 15-epoch run is the prefix of a 30-epoch run of
the same seed, and a run of `compare` equals its `train_command` run alone.
`jit_compile=None` ("auto") is Keras' own default: XLA on JAX and on a
TensorFlow GPU, TensorFlow's kernels on a CPU-only TensorFlow, where XLA
only pays back its compiling on long runs of some models
(`benchmarks/results/train_cpu_tensorflow_dv64_paper.json`: `paper`'s
steady-state step 1.34x faster under load, `avatt` about even, and tens of
seconds of compiling per batch shape); `--jit-compile on` asks for it there.

Determinism: Keras refuses XLA while TensorFlow's op determinism
(`keras_avl.determinism`) is on, and op determinism cannot be turned off
through TensorFlow's public API once on. A deterministic run turns it on only
without XLA (XLA's CPU programs are deterministic by themselves), so an XLA run
asked for in a process where an earlier deterministic run without XLA turned
it on cannot be honoured: `configure_train_step` raises a `ValueError` that
says so (run it in a process of its own) instead of silently training without
XLA.
"""

import keras

from keras_avl.determinism import op_determinism_enabled
from keras_avl.validation import check_positive_int


def _tensorflow_cpu_only():
    if keras.backend.backend() != "tensorflow":
        return False
    import tensorflow as tf

    return not tf.config.list_logical_devices("GPU")


def resolve_jit_compile(jit_compile):
    """Whether XLA compiles the train step of a run.

    Args:
        jit_compile: True/False as asked, or None ("auto"): XLA on JAX and on
            a TensorFlow GPU, not on a CPU-only TensorFlow, not on PyTorch
            (True asks for `torch.compile`).

    Returns:
        True or False.

    Example:

    >>> resolve_jit_compile(False), resolve_jit_compile(True)
    (False, True)
    """
    if jit_compile is None and keras.backend.backend() == "torch":
        # torch.compile (Keras' jit_compile on torch) recompiles for every batch
        # shape and floods the terminal with dynamo warnings: eager by default.
        return False
    if jit_compile is None:
        return not _tensorflow_cpu_only()
    return bool(jit_compile)


def configure_train_step(model, jit_compile=None, steps_per_execution=1):
    """Sets how a compiled model's train step runs, before its first `fit`.

    Args:
        model: a compiled Keras model.
        jit_compile: True/False: whether XLA compiles the step; None keeps
            the model's.
        steps_per_execution: batches per call of the compiled step.

    Raises:
        ValueError: XLA was asked for where Keras would not compile with it:
            TensorFlow's op determinism is on in this process (an earlier
            deterministic run without XLA), or a layer without XLA support.

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
        tensorflow = keras.backend.backend() == "tensorflow"
        if jit_compile and tensorflow and op_determinism_enabled():
            raise ValueError(
                "jit_compile=True (--jit-compile on) cannot be honoured in this "
                "process: a deterministic run without XLA turned TensorFlow's op "
                "determinism on for the process, Keras refuses XLA under it and "
                "TensorFlow cannot turn it off. Run the XLA run in a process of "
                "its own (its own `keras-avl train`), or pass jit_compile=False."
            )
        model.jit_compile = bool(jit_compile)
        if bool(model.jit_compile) != bool(jit_compile):
            raise ValueError(
                f"jit_compile=True (--jit-compile on) cannot compile {model.name!r}: "
                "Keras refused XLA (a layer without XLA support"
                + (", or TensorFlow's op determinism turned on outside keras-avl"
                   if tensorflow else "")
                + "). Pass jit_compile=False."
            )
    model.steps_per_execution = steps_per_execution
    # Traced again at the next fit with these settings.
    model.train_function = model.test_function = model.predict_function = None
