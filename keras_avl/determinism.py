"""Deterministic training: a run repeats bit for bit for its seed on one machine.

`keras_avl.training.train` always seeds Python, NumPy and the backend with
`keras.utils.set_random_seed(seed)` and the data pipeline (NumPy only) draws
its shuffles from `numpy.random.default_rng([seed, pass])`.
`enable_determinism()` adds, for the active backend only (TensorFlow is not
imported under the others):

- TensorFlow: `tf.config.experimental.enable_op_determinism()`: ops use
  deterministic kernels (or raise where none exists, mostly GPU
  scatter/segment ops). It is process-wide and cannot be undone;
  `op_determinism_enabled()` says whether `enable_determinism` turned it on
  (TensorFlow's public API has no query).
- JAX: XLA on CPU is deterministic; for GPUs `--xla_gpu_deterministic_ops=true`
  is appended to `XLA_FLAGS`, which takes effect only if JAX has not started
  its GPU backend yet in this process (train calls this before building).
- A TensorFlow train step compiled with XLA (`xla=True`): XLA's flag as for
  JAX, and no op determinism, which Keras does not combine with XLA (see
  `keras_avl.training.train_step`).
- PyTorch: `torch.use_deterministic_algorithms(True)` (deterministic kernels,
  or an error where none exists) and, for CUDA's matrix products,
  `CUBLAS_WORKSPACE_CONFIG=:4096:8` unless set (read when CUDA starts).
"""

import os

import keras

JAX_DETERMINISTIC_FLAG = "--xla_gpu_deterministic_ops=true"
# What PyTorch's deterministic mode asks of cuBLAS (PyTorch's reproducibility notes).
CUBLAS_WORKSPACE = ":4096:8"
# Whether `enable_determinism` turned TensorFlow's op determinism on in this
# process (it stays on: TensorFlow has no public way back).
_tensorflow_op_determinism = False


def enable_determinism(xla=False):
    """Turns on the deterministic settings above (idempotent).

    Args:
        xla: whether the run's TensorFlow train step is compiled with XLA.

    Example:

    >>> enable_determinism()
    >>> enable_determinism()  # a second call changes nothing
    """
    global _tensorflow_op_determinism
    backend = keras.backend.backend()
    if backend == "tensorflow" and not xla:
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
        _tensorflow_op_determinism = True
    if backend == "torch":
        import torch

        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)
        torch.use_deterministic_algorithms(True)
    if (xla and backend == "tensorflow") or backend == "jax":
        flags = os.environ.get("XLA_FLAGS", "")
        if JAX_DETERMINISTIC_FLAG not in flags.split():
            os.environ["XLA_FLAGS"] = f"{flags} {JAX_DETERMINISTIC_FLAG}".strip()


def op_determinism_enabled():
    """Whether `enable_determinism` has turned TensorFlow's op determinism on
    in this process (for good). A `tf.config.experimental.enable_op_determinism()`
    called by other code is not seen: TensorFlow's public API cannot be asked.

    Example:

    >>> isinstance(op_determinism_enabled(), bool)
    True
    """
    return _tensorflow_op_determinism
