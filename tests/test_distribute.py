"""Multi-device training equals single-device training for the same global batch.

Device configuration must happen before TensorFlow / JAX start, so every
training check runs this file as a script in a fresh process
(`python tests/test_distribute.py KIND OUT.npz`): it trains a small supervised
model from the same initial weights once on one device and once distributed,
and saves both; the tests compare them.
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
    check_backend_installed,
    check_global_batch,
    distribution_scope,
    is_chief,
    read_tf_config,
)

GLOBAL_BATCH = 8
EPOCHS = 2
TIMEOUT_S = 240


def _small_data():
    rng = np.random.default_rng(0)
    x = {
        "visual": rng.random((16, 4, 2, 2, 8), dtype="float32"),
        "audio": rng.random((16, 4, 6), dtype="float32"),
    }
    y = np.eye(3, dtype="float32")[rng.integers(0, 3, (16, 4))]
    return x, y


def _small_model():
    from keras_avl.models import AVLConfig, build_supervised

    # No dropout: replicas would draw different masks than one device.
    config = AVLConfig(
        num_classes=3, segments=4, grid=(2, 2), visual_dim=8, audio_dim=6,
        embed_dim=8, mfb_factor=2, mfb_output_dim=4, mfb_dropout=0.0, hidden=4,
        swab_units=4, dropout=0.0, learning_rate=1e-2,
    )
    return build_supervised(config)


def _fit(model, x, y):
    import keras

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        # Eager steps: tracing costs far more than these few tiny steps.
        tf.config.run_functions_eagerly(True)
        data = tf.data.Dataset.from_tensor_slices((x, y)).batch(GLOBAL_BATCH)
        history = model.fit(data, epochs=EPOCHS, verbose=0)
    else:
        history = model.fit(
            x, y, batch_size=GLOBAL_BATCH, epochs=EPOCHS, shuffle=False, verbose=0
        )
    return history.history["loss"]


def _worker(kind, out_path):
    """Trains distributed, then on one device from the same start; saves both."""
    import keras

    from keras_avl.distribute import split_cpu_devices

    if kind == "mirrored":
        split_cpu_devices(2)
    keras.utils.set_random_seed(0)
    x, y = _small_data()
    with distribution_scope(kind) as replicas:
        model = _small_model()
        initial = model.get_weights()
        distributed_loss = _fit(model, x, y)
    distributed = model.get_weights()
    single = _small_model()
    single.set_weights(initial)
    single_loss = _fit(single, x, y)
    if is_chief():
        np.savez(
            out_path,
            replicas=replicas,
            distributed_loss=distributed_loss,
            single_loss=single_loss,
            **{f"distributed_{i}": w for i, w in enumerate(distributed)},
            **{f"single_{i}": w for i, w in enumerate(single.get_weights())},
            **{f"initial_{i}": w for i, w in enumerate(initial)},
        )


def _run_worker(kind, out_path, env_updates):
    env = dict(os.environ, **env_updates)
    return subprocess.Popen(
        [sys.executable, __file__, kind, str(out_path)],
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


def _check_equal_training(out_path, replicas):
    result = np.load(out_path)
    assert int(result["replicas"]) == replicas
    count = sum(1 for key in result.files if key.startswith("single_") and key[7:].isdigit())
    assert count > 0
    moved = 0.0
    for i in range(count):
        np.testing.assert_allclose(
            result[f"distributed_{i}"], result[f"single_{i}"], rtol=1e-4, atol=5e-5
        )
        moved = max(moved, np.abs(result[f"single_{i}"] - result[f"initial_{i}"]).max())
    # Training did move the weights, so the equality above is not vacuous.
    assert moved > 1e-3
    np.testing.assert_allclose(
        result["distributed_loss"], result["single_loss"], rtol=1e-4
    )


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


@pytest.mark.multibackend
def test_mirrored_on_two_devices_equals_one_device(tmp_path):
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    out_path = tmp_path / "mirrored.npz"
    env = {"KERAS_BACKEND": backend}
    if backend == "jax":
        env["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
    _wait([_run_worker("mirrored", out_path, env)])
    _check_equal_training(out_path, replicas=2)


@pytest.mark.skipif(
    os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow",
    reason="MultiWorkerMirroredStrategy is TensorFlow's",
)
def test_two_workers_on_loopback_equal_one_device(tmp_path):
    out_path = tmp_path / "multiworker.npz"
    workers = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    processes = [
        _run_worker(
            "multiworker",
            out_path,
            {
                "KERAS_BACKEND": "tensorflow",
                "TF_CONFIG": json.dumps(
                    {"cluster": {"worker": workers}, "task": {"type": "worker", "index": i}}
                ),
            },
        )
        for i in range(2)
    ]
    _wait(processes)
    _check_equal_training(out_path, replicas=2)


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


def test_only_worker_zero_is_chief():
    def config(index):
        return {"TF_CONFIG": json.dumps(
            {"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": index}}
        )}

    assert is_chief({}) and is_chief(config(0)) and not is_chief(config(1))


def test_unknown_distribution_and_uneven_batch_are_rejected():
    with pytest.raises(ValueError, match="distribute"):
        with distribution_scope("ring"):
            pass
    with pytest.raises(ValueError, match="multiple of the 2 replicas"):
        check_global_batch(7, 2)
    assert check_global_batch(8, 2) == 8


def test_missing_backend_says_what_to_install():
    missing = next(
        (name for name in ("torch", "jax", "tensorflow") if not _installed(name)), None
    )
    if missing is None:
        pytest.skip("every Keras backend is installed here")
    with pytest.raises(ModuleNotFoundError, match="pip install"):
        check_backend_installed({"KERAS_BACKEND": missing})
    with pytest.raises(ValueError, match="KERAS_BACKEND must be one of"):
        check_backend_installed({"KERAS_BACKEND": "theano"})


def _installed(module):
    import importlib.util

    return importlib.util.find_spec(module) is not None


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    _worker(sys.argv[1], sys.argv[2])
