"""Keeps the backends' start-up lines off a command's terminal.

TensorFlow's C++ runtime logs through absl before absl is initialised, so
some lines (`oneDNN custom operations are on ...`) reach stderr at import
time whatever `TF_CPP_MIN_LOG_LEVEL` says; others (`cpu_feature_guard`,
`XLA service ... initialized`) follow its level. A quiet command therefore
sets `TF_CPP_MIN_LOG_LEVEL=3` unless the user chose a level, and imports
TensorFlow once with the process's stderr (file descriptor 2) pointed at
`/dev/null`. Nothing that changes numerics (`TF_ENABLE_ONEDNN_OPTS`, XLA
flags) is touched, and Python's own messages are never hidden.
"""

import contextlib
import importlib.util
import os
import sys

TF_LOG_LEVEL_VARIABLE = "TF_CPP_MIN_LOG_LEVEL"
QUIET_TF_LOG_LEVEL = "3"  # only FATAL


@contextlib.contextmanager
def stderr_descriptor_silenced():
    """Points file descriptor 2 (where C++ libraries write) at `/dev/null`
    inside the block; Python's `sys.stderr` is flushed first and works again
    after it."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def quiet_backend(environ=None):
    """Call before anything imports TensorFlow (or Keras): silences the
    backend's C++ start-up and info lines for the rest of the process.
    TensorFlow is imported only where it is the backend (`KERAS_BACKEND`
    unset or `tensorflow`) and installed."""
    environ = os.environ if environ is None else environ
    environ.setdefault(TF_LOG_LEVEL_VARIABLE, QUIET_TF_LOG_LEVEL)
    if (
        environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow"
        or "tensorflow" in sys.modules
        or importlib.util.find_spec("tensorflow") is None
    ):
        return
    with stderr_descriptor_silenced():
        import tensorflow  # noqa: F401  (its import-time lines go to /dev/null)
