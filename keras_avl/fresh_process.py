"""Runs a function in a fresh Python process, so that nothing it leaves
behind (TensorFlow's traced graphs, a backend's caches, the arrays of its
dataset) outlives it in the caller's process.

`compare` trains and evaluates each run this way: TensorFlow keeps the
function graphs of every finished `fit` reachable from its own C++ state,
which `keras.backend.clear_session()` does not free (measured in
`benchmarks/bench_compare_memory.py`: about 75 MB per tiny run, for good),
and a run in its own process also starts from the same process state as
its recorded `keras-avl train` command run alone.
"""

import multiprocessing
import os
import signal
import sys
from concurrent.futures import ProcessPoolExecutor

from keras_avl.quiet import QUIET_TF_LOG_LEVEL, TF_LOG_LEVEL_VARIABLE, quiet_backend


def _start_child():
    if sys.platform.startswith("linux"):
        # A child of a killed caller dies with it instead of writing on into
        # a run folder that a resumed caller is about to continue.
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.environ.get(TF_LOG_LEVEL_VARIABLE) == QUIET_TF_LOG_LEVEL:
        quiet_backend()  # the caller was quiet: so is its child


def call_in_fresh_process(function, *args, **kwargs):
    """`function(*args, **kwargs)` computed in a new Python process (spawned,
    with this process's environment, hence its `KERAS_BACKEND`); its return
    value or its exception comes back. `function` and the arguments must be
    picklable (a module-level function; plain data).

    Example:

    >>> call_in_fresh_process(os.getpid) != os.getpid()
    True
    """
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=context, initializer=_start_child) as pool:
        return pool.submit(function, *args, **kwargs).result()
