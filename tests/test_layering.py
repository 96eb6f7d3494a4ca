"""The package's layering: data knows no model, so importing `keras_avl.data`
(e.g. to generate or validate a dataset) must not start Keras or a backend."""

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
