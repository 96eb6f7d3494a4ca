"""How the train step is compiled (`keras_avl.training.train_step`): one
kernel choice per run, fixed by what was asked (backend, device, flag) and
never by the run's length or the process's history; an XLA that was asked for
where TensorFlow's op determinism is on already is a clear error, never a
silent run without XLA."""

import json
import subprocess
import sys
import textwrap

import keras
import pytest

from keras_avl.training.train_step import configure_train_step, resolve_jit_compile

TENSORFLOW = keras.backend.backend() == "tensorflow"


def test_auto_depends_on_the_backend_and_device_only():
    # The CI machines have no GPU: TensorFlow's kernels on TF, XLA on JAX.
    assert resolve_jit_compile(None) is (not TENSORFLOW)
    assert resolve_jit_compile(True) is True and resolve_jit_compile(False) is False


@pytest.mark.upstream  # Keras refusing XLA under op determinism
def test_xla_after_op_determinism_is_a_clear_error():
    """An XLA run's determinism leaves op determinism off and XLA on; once a
    deterministic run without XLA has turned op determinism on (for good:
    Keras itself then refuses XLA), XLA asked for is a clear error, not a
    silent run without it."""
    if not TENSORFLOW:
        pytest.skip("op determinism excludes XLA on TensorFlow only")
    script = textwrap.dedent("""
        import keras
        from keras_avl.determinism import enable_determinism, op_determinism_enabled
        from keras_avl.training.train_step import configure_train_step
        def model():
            model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
            model.compile("sgd", "mse")
            return model
        enable_determinism(xla=True)
        xla = model()
        configure_train_step(xla, jit_compile=True)
        print(xla.jit_compile, op_determinism_enabled())
        enable_determinism()
        keras_alone = model()
        keras_alone.jit_compile = True  # Keras' own refusal: op determinism is on
        print(keras_alone.jit_compile, op_determinism_enabled())
        try:
            configure_train_step(model(), jit_compile=True)
        except ValueError as error:
            print("refused", "process of its own" in str(error))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split()[-6:] == ["True", "False", "False", "True", "refused", "True"]


@pytest.mark.upstream  # Keras' jit_compile and steps_per_execution set after compile
def test_configure_sets_the_step():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    configure_train_step(model, jit_compile=False, steps_per_execution=3)
    assert (model.jit_compile, model.steps_per_execution) == (False, 3)
    with pytest.raises(ValueError, match="steps_per_execution"):
        configure_train_step(model, steps_per_execution=0)


_RUN = """
import json, os, sys
os.environ["KERAS_AVL_HOME"] = {home!r}
from keras_avl.training import train
def run(name, epochs, jit):
    run = train({root!r} + "/" + name, "supervised", epochs=epochs, verbose=0,
                embedded_size="tiny", jit_compile=jit, model_config=dict(
                    hidden=8, embed_dim=8, mfb_output_dim=8, swab_units=8))
    history = json.loads((run.path / "metrics.json").read_text())["history"]
    return dict(history=history, xla=run.training.jit_compile)
"""


@pytest.mark.slow  # ~1 min: two runs in one process, one in another, XLA compiling
def test_an_xla_run_after_a_deterministic_run_is_refused(tmp_path):
    """Process 1: a deterministic run without XLA (op determinism on for
    good), then an XLA run: refused with a clear error, not run without XLA;
    process 2: the XLA run alone, XLA recorded."""
    common = _RUN.format(home=str(tmp_path / "home"), root=str(tmp_path))
    after = common + textwrap.dedent("""
        run('first', 1, False)
        try:
            run('after', 1, True)
        except ValueError as error:
            print(json.dumps(str(error)))
    """)
    alone = common + "print(json.dumps(run('alone', 1, True)))\n"
    results = []
    for script in (alone, after):
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-3000:]
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    assert results[0]["xla"] is True and len(results[0]["history"]) == 1
    assert "process of its own" in results[1]
