"""The package is a plain tree: every subpackage of `keras_avl`, the fused
kernels of `keras_avl.ops` included, imports from a checkout on `PYTHONPATH`
without an install (no setuptools `package-dir` mapping, no editable finder)."""

import os
import site
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_a_checkout_imports_keras_avl_ops_without_an_install(tmp_path):
    # `-S`: no site-packages processing, so no `.pth` file installs the
    # editable finder of `pip install -e`; the site-packages folders still
    # come on the path, plainly, for Keras and NumPy.
    env = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *site.getsitepackages()])
    code = (
        "import sys, keras_avl.ops\n"
        "assert not any('__editable__' in type(f).__module__ for f in sys.meta_path)\n"
        "print(keras_avl.ops.__file__)\n"
        "print(sorted(keras_avl.ops.__all__))"
    )
    done = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True,
                          cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    ops_file, names = done.stdout.strip().splitlines()[-2:]
    assert Path(ops_file).resolve() == ROOT / "keras_avl" / "ops" / "__init__.py"
    assert "fused_mfb" in names


def test_every_subpackage_is_a_regular_package():
    # setuptools' find includes only folders with an __init__.py.
    for folder in (ROOT / "keras_avl").rglob("*"):
        if folder.is_dir() and folder.name != "__pycache__" and any(folder.glob("*.py")):
            assert (folder / "__init__.py").exists(), folder
