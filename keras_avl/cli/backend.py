"""The `keras-avl` commands' check that `KERAS_BACKEND` names an installed
backend, made before any command imports Keras (which would fail with a far
less helpful message)."""

import importlib.util
import os

# The module each Keras backend imports; checked before Keras is imported.
BACKEND_MODULES = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}
# The `pip install "keras-avl[<extra>]"` that installs each backend.
BACKEND_EXTRAS = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}


def check_backend_installed(environ=None):
    """Raises a clear error when `KERAS_BACKEND` names a backend that is not
    installed (call it before importing Keras).

    Args:
        environ: the environment to read (default `os.environ`).

    Returns:
        The backend name (`"tensorflow"` when `KERAS_BACKEND` is unset).

    Example:

    >>> check_backend_installed({"KERAS_BACKEND": "tensorflow"})
    'tensorflow'
    """
    environ = os.environ if environ is None else environ
    backend = environ.get("KERAS_BACKEND", "tensorflow")
    if backend not in BACKEND_MODULES:
        raise ValueError(
            f"KERAS_BACKEND must be one of {tuple(BACKEND_MODULES)}; found "
            f"KERAS_BACKEND={backend!r}."
        )
    if importlib.util.find_spec(BACKEND_MODULES[backend]) is None:
        installed = [name for name, module in BACKEND_MODULES.items()
                     if importlib.util.find_spec(module) is not None]
        raise ValueError(
            f"KERAS_BACKEND={backend!r} but the package "
            f"{BACKEND_MODULES[backend]!r} is not installed: run `pip install "
            f"'keras-avl[{BACKEND_EXTRAS[backend]}]'` (`pip install -e "
            f"'.[{BACKEND_EXTRAS[backend]}]'` in a checkout), or set KERAS_BACKEND "
            f"to an installed backend ({', '.join(installed) or 'none installed'})."
        )
    return backend
