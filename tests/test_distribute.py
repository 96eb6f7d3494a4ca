"""Multi-device training equals single-device training for the same global batch.

Device configuration must happen before TensorFlow / JAX start, so every
training check runs this file as a script in a fresh process
(`python tests/test_distribute.py KIND OUT_DIR`): it runs `keras-avl train
--distribute KIND` on the embedded tiny dataset and, on the chief, the same
command on one device; the tests compare the two run folders.
"""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from keras_avl.distribute import (
    check_global_batch,
    distribution_scope,
    is_chief,
    read_tf_config,
    worker_folder,
)

# The whole tiny training split (24 videos) in one global batch: the data
# pipeline's per-epoch shuffle then only permutes the batch, which leaves its
# mean gradient unchanged. (Keras' distributed `fit` opens one extra iterator
# to learn the input shapes; `train` draws each epoch's pass by the epoch, so
# that this peek does not shift the shuffle.)
GLOBAL_BATCH = 24
TIMEOUT_S = 240
# Tiny sizes; no dropout, as replicas would draw other masks than one device.
SETTINGS = dict(hidden=4, embed_dim=8, mfb_output_dim=4, swab_units=4, dropout=0,
                mfb_dropout=0)


def _worker(kind, out_dir):
    """`keras-avl train --distribute KIND`, then (chief) the same on one device."""
    import keras

    from keras_avl.cli.main import main
    from keras_avl.distribute import split_cpu_devices

    if kind == "mirrored":
        split_cpu_devices(2)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        # Eager steps: tracing costs far more than these few tiny steps.
        tf.config.run_functions_eagerly(True)
    command = ["train", "--regime", "supervised", "--embedded-size", "tiny",
               "--epochs", "2", "--batch-size", str(GLOBAL_BATCH),
               "--learning-rate", "0.01", "--verbose", "0"]
    command += [f"--set={name}={value}" for name, value in SETTINGS.items()]
    out_dir = Path(out_dir)
    assert main(command + ["--distribute", kind, "--run-dir", str(out_dir / "distributed")]) == 0
    if is_chief():
        assert main(command + ["--run-dir", str(out_dir / "single")]) == 0


def _run_worker(kind, out_dir, env_updates):
    env = dict(os.environ, **env_updates)
    return subprocess.Popen(
        [sys.executable, __file__, kind, str(out_dir)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait(processes):
    outputs = []
    for process in processes:
        try:
            output, _ = process.communicate(timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            for other in processes:
                other.kill()
            raise
        outputs.append(output)
        assert process.returncode == 0, output[-3000:]
    return outputs


def _check_equal_training(out_dir, distribute):
    import keras

    from keras_avl.models import build_model
    from keras_avl.runs import load_run

    distributed, single = load_run(out_dir / "distributed"), load_run(out_dir / "single")
    assert distributed.training.distribute == distribute
    assert "distribute" not in single.training
    keras.utils.set_random_seed(single.training.seed)  # as `train` seeds
    initial = build_model(single.model_config, "supervised").get_weights()
    trained = single.load_model().get_weights()
    # Training moved the weights, so the equality below is not vacuous.
    assert max(np.abs(w - w0).max() for w, w0 in zip(trained, initial)) > 1e-3
    for w_distributed, w_single in zip(distributed.load_model().get_weights(), trained):
        # Float32 sums in another order, amplified a little by Adam's step.
        np.testing.assert_allclose(w_distributed, w_single, rtol=1e-3, atol=2e-4)

    def losses(run):
        history = json.loads((run.path / "metrics.json").read_text())["history"]
        return [epoch["loss"] for epoch in history]

    np.testing.assert_allclose(losses(distributed), losses(single), rtol=1e-4)


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


@pytest.mark.slow  # long end to end; `bash scripts/test.sh --all` runs it
@pytest.mark.multibackend
def test_mirrored_on_two_devices_equals_one_device(tmp_path):
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    env = {"KERAS_BACKEND": backend, "KERAS_AVL_HOME": str(tmp_path / "home")}
    if backend == "jax":
        env["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
    _wait([_run_worker("mirrored", tmp_path, env)])
    _check_equal_training(tmp_path, "mirrored")


@pytest.mark.slow  # long end to end; `bash scripts/test.sh --all` runs it
@pytest.mark.skipif(
    os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow",
    reason="MultiWorkerMirroredStrategy is TensorFlow's",
)
def test_two_workers_on_loopback_equal_one_device(tmp_path):
    workers = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    processes = [
        _run_worker(
            "multiworker",
            tmp_path,
            {
                "KERAS_BACKEND": "tensorflow",
                "KERAS_AVL_HOME": str(tmp_path / "home"),
                "TF_CONFIG": json.dumps(
                    {"cluster": {"worker": workers}, "task": {"type": "worker", "index": i}}
                ),
            },
        )
        for i in range(2)
    ]
    _wait(processes)
    _check_equal_training(tmp_path, "multiworker")
    # Worker 1 trained in lockstep and kept its own copy of the run.
    assert (tmp_path / "distributed.worker1" / "best.keras").is_file()


def test_train_multiworker_without_cluster_writes_nothing(tmp_path, monkeypatch, capsys):
    from keras_avl.cli.main import main

    monkeypatch.delenv("TF_CONFIG", raising=False)
    run_dir = tmp_path / "run"
    code = main(["train", "--regime", "supervised", "--distribute", "multiworker",
                 "--run-dir", str(run_dir)])
    assert code == 2
    assert "TF_CONFIG" in capsys.readouterr().err
    assert not run_dir.exists()


def test_multiworker_without_cluster_says_what_to_set():
    with pytest.raises(ValueError, match="TF_CONFIG environment variable"):
        read_tf_config({})


@pytest.mark.parametrize(
    "tf_config, message",
    [
        ("not json", "must be JSON"),
        ('{"cluster": {"worker": ["127.0.0.1:1"]}, "task": {"type": "worker", "index": 0}}',
         "at least two"),
        ('{"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 2}}',
         "0 <= i < 2"),
    ],
)
def test_bad_cluster_description_is_named(tf_config, message):
    with pytest.raises(ValueError, match=message):
        read_tf_config({"TF_CONFIG": tf_config})


def test_only_worker_zero_is_chief_and_others_write_their_own_folder():
    def config(index):
        return {"TF_CONFIG": json.dumps(
            {"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": index}}
        )}

    assert is_chief({}) and is_chief(config(0)) and not is_chief(config(1))
    assert worker_folder("runs/sup", config(0)) == Path("runs/sup")
    assert worker_folder("runs/sup", config(1)) == Path("runs/sup.worker1")


def test_unknown_distribution_and_uneven_batch_are_rejected():
    with pytest.raises(ValueError, match="distribute"):
        with distribution_scope("ring"):
            pass
    with pytest.raises(ValueError, match="multiple of the 2 replicas"):
        check_global_batch(7, 2)
    assert check_global_batch(8, 2) == 8


@pytest.mark.multibackend
def test_multiworker_on_jax_says_to_use_tensorflow():
    import keras

    if keras.backend.backend() != "jax":
        pytest.skip("the JAX backend's answer")
    with pytest.raises(ValueError, match="KERAS_BACKEND=tensorflow"):
        with distribution_scope("multiworker"):
            pass


def test_even_batches_trim_uneven_batches_for_jax_only(tmp_path):
    from keras_avl.data import generate_dataset, load_ave, make_dataset
    from keras_avl.distribute import even_batches

    data = load_ave(generate_dataset(tmp_path / "ave", size="tiny"))
    # The 8 test videos in batches of 3, 3, 2 rows: at 3 replicas the last is
    # left empty and dropped.
    dataset = make_dataset(data, "test", "supervised", batch_size=3)
    full = list(dataset)
    trimmed = list(even_batches(dataset, 3, backend="jax"))
    assert [len(y) for _, y in trimmed] == [3, 3]
    for (x, y), (x_full, y_full) in zip(trimmed, full):  # the first rows, alike
        np.testing.assert_array_equal(y, y_full[:3])
        np.testing.assert_array_equal(x["audio"], x_full["audio"][:3])
    trimmed = list(even_batches(make_dataset(data, "test", "supervised", batch_size=5), 2,
                                backend="jax"))
    assert [len(y) for _, y in trimmed] == [4, 2]  # 5, 3 rows
    for value in (x["visual"] for x, _ in trimmed):
        assert len(value) in (4, 2)
    assert even_batches(dataset, 3, backend="tensorflow") is dataset
    assert even_batches(dataset, 1, backend="jax") is dataset


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    _worker(sys.argv[1], sys.argv[2])
