#!/usr/bin/env bash
# Creates .venv from nothing but python3, installs keras-avl with TensorFlow,
# JAX and the test tools, then runs the whole suite under TensorFlow and the
# backend-agnostic tests (marked `multibackend`) again under JAX. The
# docstring Examples run as doctests in the TensorFlow pass.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[tensorflow,jax,dev]"
export TF_CPP_MIN_LOG_LEVEL=2
KERAS_BACKEND=tensorflow .venv/bin/python -m pytest -n 2 --doctest-modules tests keras_avl custom_ops "$@"
KERAS_BACKEND=jax .venv/bin/python -m pytest -n 2 -m multibackend "$@"
