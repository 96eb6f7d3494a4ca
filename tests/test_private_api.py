"""No private TensorFlow, Keras or TensorBoard API in `keras_avl/` (issue 22):
a private name can change in any release within the pins and break every
install without a line changing here. The scan fails on a new use, naming
file and line; a use that cannot be avoided goes into `ALLOWED` with the
module that isolates it and the test that fails when it stops working.

What keras-avl relies on beyond the documented API is behaviour, not names:
the tests marked `upstream` check it, and CI runs them on the newest and on
the oldest versions that the pins allow (`scripts/test.sh`)."""

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.upstream

PACKAGE = Path(__file__).resolve().parent.parent / "keras_avl"
# Modules private by their path: TensorFlow's implementation behind `tf.*`,
# Keras' behind `keras.*`.
PRIVATE_MODULES = ("tensorflow.python", "tensorflow.core", "keras.src", "tf_keras",
                   "tensorboard.compat", "keras_tuner.src")
# (file relative to keras_avl/, private name): the reason and its guard test.
# Empty: keras-avl uses no private API.
ALLOWED = {}


def _private(name):
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _module_is_private(module):
    if any(module == p or module.startswith(p + ".") for p in PRIVATE_MODULES):
        return True
    # `keras._tf_keras`, `tensorflow._api`: a private segment outside keras-avl.
    return not module.startswith("keras_avl") and any(_private(s) for s in module.split("."))


def own_private_names(sources):
    """The private names that the sources define themselves: methods,
    functions, classes and what they assign (`self._x = ...`, `_x = ...`)."""
    names = set()
    for source in sources:
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
    return {name for name in names if _private(name)}


def private_uses(source, filename="<source>", own=None):
    """(line, what) for each private API use in Python source: an attribute
    with a leading underscore on anything but `self`/`cls`, or on those when
    the name is not among `own` (`own_private_names`; default: the source's
    own), i.e. a private attribute inherited from a TensorFlow or Keras
    class; a private name in get/has/setattr; an import of a private module or
    of a private name from another package."""
    own = own_private_names([source]) if own is None else own
    uses = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Attribute) and _private(node.attr):
            owner = node.value
            mine = isinstance(owner, ast.Name) and owner.id in ("self", "cls")
            if not mine or node.attr not in own:
                uses.append((node.lineno, ast.unparse(node)))
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
              and node.func.id in ("getattr", "hasattr", "setattr", "delattr")
              and len(node.args) > 1 and isinstance(node.args[1], ast.Constant)
              and isinstance(node.args[1].value, str) and _private(node.args[1].value)):
            uses.append((node.lineno, ast.unparse(node)))
        elif isinstance(node, ast.Import):
            uses += [(node.lineno, f"import {a.name}") for a in node.names
                     if _module_is_private(a.name)]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            if _module_is_private(node.module):
                uses.append((node.lineno, f"from {node.module} import ..."))
            elif not node.module.startswith("keras_avl"):
                uses += [(node.lineno, f"from {node.module} import {a.name}")
                         for a in node.names if _private(a.name)]
    return uses


def test_the_scan_finds_each_kind_of_private_use():
    source = "\n".join([
        "import tensorflow as tf",
        "from tensorflow.python.ops import control_flow_util",
        "from keras.src.backend import common",
        "import keras._tf_keras",
        "from tensorboard.plugins import _private_helper",
        "x = tensor._keras_history.operation",
        "y = getattr(callback, '_writers')",
        "self._mine = cls._also_mine = tf.__version__",
        "class Logs(keras.callbacks.TensorBoard):",
        "    def flush(self):",
        "        return self._mine, self._writers  # the second is Keras' own",
    ])
    assert sorted(line for line, _ in private_uses(source)) == [2, 3, 4, 5, 6, 7, 11]


def test_keras_avl_uses_no_private_api():
    found = []
    paths = sorted(PACKAGE.rglob("*.py"))
    own = own_private_names(path.read_text() for path in paths)
    for path in paths:
        relative = path.relative_to(PACKAGE).as_posix()
        for line, what in private_uses(path.read_text(), str(path), own):
            if (relative, what) not in ALLOWED:
                found.append(f"keras_avl/{relative}:{line}: {what}")
    assert not found, (
        "private API (a public one instead, or isolate it in one module, list it in "
        "ALLOWED and add a test that fails when it stops working):\n" + "\n".join(found)
    )
