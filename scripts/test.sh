#!/usr/bin/env bash
# Creates one virtual environment per Keras backend from nothing but python3,
# each installed from its own extra, then runs:
#   .venv-tensorflow  (.[tensorflow,dev]): the suite, with the docstring
#                     Examples as doctests;
#   .venv-jax         (.[jax,tensorflow,dev]): the tests marked `multibackend`
#                     (TensorFlow beside JAX: some reference gradients and the
#                     TensorBoard event reader of the tests use it);
#   .venv-torch       (.[torch,dev]): the `multibackend` tests not marked
#                     `notorch`;
#   .venv-oldest      (.[tensorflow,dev] under scripts/oldest-constraints.txt:
#                     the oldest Keras, TensorFlow, TensorBoard, keras-tuner,
#                     NumPy, ... that pyproject's lower bounds allow): the
#                     tests marked `multibackend` or `upstream` (TensorFlow
#                     and Keras behaviour relied on, the private-API scan),
#                     on TensorFlow.
# PyTorch: `torch==2.13.0` is installed first where pip finds that CPU build
# (PyPI's default Linux wheel brings CUDA libraries of several GB); elsewhere
# pip takes what `.[torch]` asks.
#
# By default the tests marked `slow` (long end-to-end trainings, killed and
# resumed subprocesses, the JAX runs of the methods' trainings) are left out;
# `--all` runs them too. Other arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
tier="not slow"
if [[ "${1:-}" == "--all" ]]; then
  tier="slow or not slow"
  shift
fi
TORCH_CPU_BUILD="torch==2.13.0"

make_venv() {  # make_venv NAME EXTRAS [PACKAGE FIRST] [CONSTRAINTS FILE]
  python3 -m venv ".venv-$1"
  ".venv-$1/bin/python" -m pip install --quiet --upgrade pip
  if [[ -n "${3:-}" ]]; then
    ".venv-$1/bin/python" -m pip install --quiet "$3" || true
  fi
  ".venv-$1/bin/python" -m pip install --quiet ${4:+-c "$4"} -e ".[$2]"
}

make_venv tensorflow tensorflow,dev
make_venv jax jax,tensorflow,dev
make_venv torch torch,dev "$TORCH_CPU_BUILD"
make_venv oldest tensorflow,dev "" scripts/oldest-constraints.txt
export TF_CPP_MIN_LOG_LEVEL=2
KERAS_BACKEND=tensorflow .venv-tensorflow/bin/python -m pytest -n 2 --doctest-modules \
  -m "$tier" tests keras_avl "$@"
KERAS_BACKEND=jax .venv-jax/bin/python -m pytest -n 2 -m "multibackend and ($tier)" "$@"
KERAS_BACKEND=torch .venv-torch/bin/python -m pytest -n 2 \
  -m "multibackend and not notorch and ($tier)" "$@"
KERAS_BACKEND=tensorflow .venv-oldest/bin/python -m pytest -n 2 \
  -m "(multibackend or upstream) and ($tier)" "$@"
