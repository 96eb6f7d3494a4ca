"""A command prints its own progress and results only: the backends' C++
start-up and info lines (absl's pre-initialisation notice, oneDNN,
`cpu_feature_guard`, `XLA service ... initialized`) stay off the terminal
unless `keras-avl --verbose` asks for them. Each case runs the real CLI in a
fresh process, since those lines are written once, when TensorFlow starts."""

import os
import subprocess
import sys

import pytest

from tests.ave_fixtures import TINY_MODEL

BACKEND_LINE_MARKERS = ("absl::InitializeLog", "oneDNN", "cpu_feature_guard", "XLA service",
                        "StreamExecutor", "I0000", "W0000", "E0000")


def _keras_avl(argv, tmp_path, log_level):
    env = dict(os.environ, KERAS_AVL_HOME=str(tmp_path / "home"))
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    if log_level is not None:
        env["TF_CPP_MIN_LOG_LEVEL"] = log_level
    return subprocess.run([sys.executable, "-m", "keras_avl.cli.main", *argv], env=env,
                          capture_output=True, text=True, timeout=600)


def _backend_lines(text):
    return [line for line in text.splitlines()
            if any(marker in line for marker in BACKEND_LINE_MARKERS)]


@pytest.mark.parametrize("log_level", [None, "3"])
def test_an_error_is_the_only_line_on_stderr(tmp_path, log_level):
    result = _keras_avl(["evaluate", str(tmp_path / "missing")], tmp_path, log_level)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"keras-avl evaluate: error: {tmp_path / 'missing'} is not a run folder: expected "
        f"{tmp_path / 'missing' / 'config.json'} written by `keras-avl train`."]


@pytest.mark.slow  # long end to end; `bash scripts/test.sh --all` runs it
def test_training_prints_only_its_own_lines(tmp_path):
    run_dir = tmp_path / "run"
    overrides = [f"--set={key}={value}" for key, value in TINY_MODEL.items()]
    result = _keras_avl(["train", "--regime", "supervised", "--embedded-size", "tiny",
                         "--epochs", "1", "--verbose", "0", "--run-dir", str(run_dir),
                         *overrides], tmp_path, log_level=None)
    assert result.returncode == 0, result.stderr
    assert _backend_lines(result.stderr) == [] and _backend_lines(result.stdout) == []
    assert result.stderr == ""
    assert result.stdout.splitlines() == [
        f"Run folder: {run_dir} (best checkpoint: {run_dir / 'best.keras'})",
        f"Next: keras-avl evaluate {run_dir}"]
