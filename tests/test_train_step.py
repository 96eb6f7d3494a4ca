"""How the train step is compiled (`keras_avl.training.train_step`): "auto"
takes XLA on a CPU-only TensorFlow for runs long enough to pay back
compiling, never silently drops an XLA that was asked for, and a
deterministic XLA run repeats bit for bit."""

import json
import subprocess
import sys
import textwrap

import keras
import pytest

from keras_avl.training import train_step
from keras_avl.training.train_step import XLA_MIN_STEPS, resolve_jit_compile

TENSORFLOW = keras.backend.backend() == "tensorflow"


@pytest.mark.parametrize("determinism", [False, True])
def test_auto_takes_xla_for_long_runs(monkeypatch, determinism):
    monkeypatch.setattr(train_step, "op_determinism_enabled", lambda: determinism)
    short, long = resolve_jit_compile(None, XLA_MIN_STEPS - 1), resolve_jit_compile(None, XLA_MIN_STEPS)
    if TENSORFLOW:  # the CI machines have no GPU
        assert (short, long) == (False, not determinism)
    else:  # Keras always compiles the step on JAX
        assert (short, long) == (True, True)


def test_explicit_choices_are_kept(monkeypatch):
    monkeypatch.setattr(train_step, "op_determinism_enabled", lambda: False)
    assert resolve_jit_compile(True, 1) is True
    assert resolve_jit_compile(False, 10 * XLA_MIN_STEPS) is False


def test_xla_under_op_determinism_is_a_clear_error(monkeypatch):
    if not TENSORFLOW:
        pytest.skip("op determinism excludes XLA on TensorFlow only")
    monkeypatch.setattr(train_step, "op_determinism_enabled", lambda: True)
    with pytest.raises(ValueError, match="new process"):
        resolve_jit_compile(True, 1)


def test_a_deterministic_xla_run_repeats_and_keeps_xla(tmp_path):
    """Two deterministic runs of the same seed with XLA, in a fresh process:
    the same history to the last bit, `config.json` records XLA, and op
    determinism stays off (with it Keras would have dropped XLA)."""
    script = textwrap.dedent(f"""
        import json, os
        os.environ["KERAS_AVL_HOME"] = {str(tmp_path / "home")!r}
        from keras_avl.training import train
        from keras_avl.training.train_step import op_determinism_enabled
        histories = []
        for name in ("a", "b"):
            run = train({str(tmp_path)!r} + "/" + name, "supervised", epochs=2, verbose=0,
                        embedded_size="tiny", jit_compile=True, hidden=8, embed_dim=8,
                        mfb_output_dim=8, swab_units=8)
            histories.append(json.loads((run.path / "metrics.json").read_text())["history"])
        print(json.dumps(dict(same=histories[0] == histories[1], xla=run.training["jit_compile"],
                              op_determinism=op_determinism_enabled(), epochs=len(histories[0]))))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == dict(same=True, xla=True, op_determinism=not TENSORFLOW, epochs=2)
