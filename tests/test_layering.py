"""The package's layering: data knows no model, so importing `keras_avl.data`
(e.g. to generate or validate a dataset) must not start Keras or a backend;
and nothing below `keras_avl.training` (the run folder of `keras_avl.runs`,
the models, the kernels) imports from training or the packages above it."""

import subprocess
import sys


def test_importing_the_data_package_does_not_import_keras():
    code = (
        "import sys, keras_avl.data; "
        "print(sorted(m for m in ('keras', 'tensorflow', 'jax') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


# The layers below `keras_avl.training`: the top-level modules (`runs`,
# `protocols`, ...), the models and what they are built of, and the fused
# kernels. None of them may import (at module level or inside a function)
# from the packages above: training, tuning, the command line, figures.
BELOW_TRAINING = ["keras_avl/*.py", "keras_avl/data", "keras_avl/features", "keras_avl/layers",
                  "keras_avl/losses", "keras_avl/models", "keras_avl/ops"]
ABOVE = ("keras_avl.training", "keras_avl.tuning", "keras_avl.cli", "keras_avl.visualization")


def _imported_modules(path):
    import ast

    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.module
            # `from keras_avl import training` imports a package above too.
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def test_modules_below_training_import_nothing_from_above():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    files = []
    for pattern in BELOW_TRAINING:
        files += root.glob(pattern) if pattern.endswith(".py") else (root / pattern).rglob("*.py")
    assert any(path.name == "runs.py" for path in files)
    upward = sorted(
        f"{path.relative_to(root)} imports {module}"
        for path in files
        for module in _imported_modules(path)
        if ".".join(module.split(".")[:2]) in ABOVE
    )
    assert upward == []
