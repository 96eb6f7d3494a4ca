#!/usr/bin/env bash
# Creates .venv from nothing but python3, installs keras-avl with TensorFlow,
# JAX and the test tools, then runs the suite under TensorFlow and the
# backend-agnostic tests (marked `multibackend`) again under JAX. The
# docstring Examples run as doctests in the TensorFlow pass.
#
# By default the tests marked `slow` (long end-to-end trainings, killed and
# resumed subprocesses, the JAX runs of the methods' trainings) are left out,
# so the run takes under ten minutes on two cores; `--all` runs them too.
# Other arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
tier="not slow"
if [[ "${1:-}" == "--all" ]]; then
  tier="slow or not slow"
  shift
fi
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[tensorflow,jax,dev]"
export TF_CPP_MIN_LOG_LEVEL=2
KERAS_BACKEND=tensorflow .venv/bin/python -m pytest -n 2 --doctest-modules -m "$tier" \
  tests keras_avl custom_ops "$@"
KERAS_BACKEND=jax .venv/bin/python -m pytest -n 2 -m "multibackend and ($tier)" "$@"
