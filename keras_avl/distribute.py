"""Data-parallel training on more than one device, behind `--distribute`.

- TensorFlow: `"mirrored"` is `tf.distribute.MirroredStrategy` over the local
  devices (GPUs, or logical CPUs made with `split_cpu_devices`);
  `"multiworker"` is `tf.distribute.MultiWorkerMirroredStrategy`, whose cluster
  comes from the `TF_CONFIG` environment variable of every worker.
- JAX: `"mirrored"` is `keras.distribution.DataParallel` over the local devices.

In every case the batch size is the global batch: each of the N replicas sees
1/N of it, gradients are averaged, and training equals single-device training
with that batch up to float round-off.
"""

import contextlib
import json
import os
from pathlib import Path

from keras_avl.validation import check_choice, check_positive_int

DISTRIBUTIONS = ("none", "mirrored", "multiworker")
TF_CONFIG_EXAMPLE = (
    'TF_CONFIG=\'{"cluster": {"worker": ["127.0.0.1:20000", "127.0.0.1:20001"]}, '
    '"task": {"type": "worker", "index": 0}}\''
)


def read_tf_config(environ=None):
    """The cluster description of a multi-worker run, from `TF_CONFIG`.

    Args:
        environ: the environment to read (default `os.environ`).

    Returns:
        The parsed `TF_CONFIG` dict, with at least two workers in
        `cluster.worker` and this process's `task`.

    Example:

    >>> config = read_tf_config({"TF_CONFIG": '{"cluster": {"worker": '
    ...     '["127.0.0.1:20000", "127.0.0.1:20001"]}, '
    ...     '"task": {"type": "worker", "index": 1}}'})
    >>> config["task"]["index"]
    1
    """
    environ = os.environ if environ is None else environ
    text = environ.get("TF_CONFIG")
    if not text:
        raise ValueError(
            "--distribute multiworker needs a cluster description in the "
            "TF_CONFIG environment variable of every worker, e.g. "
            f"{TF_CONFIG_EXAMPLE} (index 1 on the second worker); TF_CONFIG "
            "is not set."
        )
    try:
        config = json.loads(text)
        workers = config["cluster"]["worker"]
        task_type, index = config["task"]["type"], config["task"]["index"]
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(
            "TF_CONFIG must be JSON with `cluster.worker` (a list of host:port) "
            f"and `task` (`type`, `index`), e.g. {TF_CONFIG_EXAMPLE}; found "
            f"TF_CONFIG={text!r} ({error})."
        ) from error
    if not isinstance(workers, list) or len(workers) < 2:
        raise ValueError(
            "TF_CONFIG `cluster.worker` must list at least two host:port "
            f"addresses; found {workers!r}. For one machine use --distribute mirrored."
        )
    if task_type not in ("worker", "chief") or not (
        isinstance(index, int) and 0 <= index < len(workers)
    ):
        raise ValueError(
            "TF_CONFIG `task` must be {'type': 'worker', 'index': i} with "
            f"0 <= i < {len(workers)}; found {config['task']!r}."
        )
    return config


def is_chief(environ=None):
    """Whether this process writes the run's files: always outside a
    multi-worker cluster, and on worker 0 (or the chief) inside one."""
    environ = os.environ if environ is None else environ
    if not environ.get("TF_CONFIG"):
        return True
    return _is_chief_task(read_tf_config(environ)["task"])


def _is_chief_task(task):
    return task["type"] == "chief" or task["index"] == 0


def worker_folder(path, environ=None):
    """Where this process writes a run: `path` on the chief (worker 0), and
    `<path>.worker<i>` on worker i > 0 of a multi-worker cluster, which trains
    in lockstep and keeps its own copy (so that both resume alike).

    Example:

    >>> environ = {"TF_CONFIG": '{"cluster": {"worker": ["a:1", "b:2"]}, '
    ...            '"task": {"type": "worker", "index": 1}}'}
    >>> worker_folder("runs/sup", environ).name
    'sup.worker1'
    """
    path = Path(path)
    task = read_tf_config(environ)["task"]
    if _is_chief_task(task):
        return path
    return path.with_name(f"{path.name}.worker{task['index']}")


def split_cpu_devices(count):
    """Splits the host CPU into `count` devices, to try multi-device training
    without GPUs. Call it before the backend has initialised its devices.

    TensorFlow gets `count` logical CPU devices; JAX reads
    `XLA_FLAGS=--xla_force_host_platform_device_count=N`, which this sets when
    JAX has not started yet.

    Args:
        count: the number of CPU devices wanted.

    Returns:
        The names of the CPU devices now visible.
    """
    count = check_positive_int("count", count)
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        cpu = tf.config.list_physical_devices("CPU")[0]
        try:
            tf.config.set_logical_device_configuration(
                cpu, [tf.config.LogicalDeviceConfiguration()] * count
            )
        except RuntimeError as error:
            raise RuntimeError(
                "split_cpu_devices must run before TensorFlow initialises its "
                f"devices (before any tensor is created): {error}"
            ) from error
        return [device.name for device in tf.config.list_logical_devices("CPU")]
    if backend == "jax":
        flag = f"--xla_force_host_platform_device_count={count}"
        os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {flag}".strip()
        import jax

        devices = jax.devices("cpu")
        if len(devices) != count:
            raise RuntimeError(
                f"JAX already started with {len(devices)} CPU device(s); set "
                f"XLA_FLAGS={flag} in the environment before starting Python."
            )
        return [str(device) for device in devices]
    raise ValueError(
        f"split_cpu_devices supports the tensorflow and jax backends; the "
        f"Keras backend is {backend!r}."
    )


def _tensorflow_strategy(kind, devices):
    import tensorflow as tf

    if kind == "mirrored":
        return tf.distribute.MirroredStrategy(devices=devices)
    read_tf_config()
    if devices is not None:
        raise ValueError(
            "--distribute multiworker uses every local device of each worker; "
            f"`devices` must be None, received devices={devices!r}."
        )

    class MultiWorkerMirroredStrategy(tf.distribute.MultiWorkerMirroredStrategy):
        """Works around two Keras 3 `fit` failures of the stock strategy.

        `fit` reduces a whole (nested) input batch to learn its shapes, which
        the stock `reduce` rejects for dict inputs like this library's
        (keras-team/keras#20329); and it reduces the scalar logs along axis 0
        (tensorflow/tensorflow#72388). Here nested values are reduced leaf by
        leaf, and scalars across replicas only.
        """

        def reduce(self, reduce_op, value, axis):
            reduce_leaf = super().reduce

            def reduce_one(leaf):
                local = self.experimental_local_results(leaf)[0]
                leaf_axis = None if local.shape.rank == 0 else axis
                return reduce_leaf(reduce_op, leaf, leaf_axis)

            return tf.nest.map_structure(reduce_one, value)

    return MultiWorkerMirroredStrategy()


def _jax_distribution(kind, devices):
    import keras

    if kind == "multiworker":
        raise ValueError(
            "--distribute multiworker is implemented with TensorFlow's "
            "MultiWorkerMirroredStrategy: run it with KERAS_BACKEND=tensorflow, "
            "or use --distribute mirrored (keras.distribution.DataParallel over "
            "this machine's devices) on JAX."
        )
    return keras.distribution.DataParallel(devices=devices)


@contextlib.contextmanager
def distribution_scope(kind="none", devices=None):
    """A block in which to build, compile and fit a model data-parallel.

    Args:
        kind: one of `DISTRIBUTIONS`: `"none"` (one device), `"mirrored"`
            (every local device) or `"multiworker"` (TensorFlow, cluster from
            `TF_CONFIG`).
        devices: device names for `"mirrored"` (default: all local devices).

    Yields:
        The number of replicas that share each global batch.

    Example:

    >>> import keras
    >>> with distribution_scope("none") as replicas:
    ...     model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    >>> replicas
    1
    """
    check_choice("distribute", kind, DISTRIBUTIONS)
    if kind == "none":
        yield 1
        return
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        strategy = _tensorflow_strategy(kind, devices)
        with strategy.scope():
            yield strategy.num_replicas_in_sync
    elif backend == "jax":
        distribution = _jax_distribution(kind, devices)
        with distribution.scope():
            yield distribution.device_mesh.shape[0]
    else:
        raise ValueError(
            f"--distribute {kind} supports the tensorflow and jax backends; the "
            f"Keras backend is {backend!r}. Set KERAS_BACKEND=tensorflow or jax."
        )


def even_batches(dataset, replicas, backend=None):
    """Trims every batch of an `AVEBatches` (`keras_avl.data.make_dataset`) to
    a multiple of `replicas` rows, for JAX.

    `keras.distribution.DataParallel` shards each batch evenly over the
    devices and fails on a last batch that does not split (AVE: 3339 training
    videos in batches of 64 leave 11); that batch then loses at most
    `replicas - 1` videos, other ones each epoch as the data are reshuffled
    (a last batch left empty is dropped).
    TensorFlow's strategies split uneven batches themselves: there (and for
    one replica) the dataset is returned unchanged.

    Args:
        dataset: an `AVEBatches` (or its `map`) of `(inputs, targets)`
            batches, inputs a dict of arrays, all batches full but the last.
        replicas: the number of devices sharing each batch.
        backend: the Keras backend (default: the active one).

    Example:

    >>> import tempfile
    >>> from keras_avl.data import generate_dataset, load_ave, make_dataset
    >>> data = load_ave(generate_dataset(tempfile.mkdtemp() + "/ave", size="tiny"))
    >>> test = make_dataset(data, "test", "supervised", batch_size=3)  # 8 videos
    >>> [len(y) for _, y in even_batches(test, 2, backend="jax")]
    [2, 2, 2]
    >>> [len(y) for _, y in even_batches(test, 3, backend="jax")]
    [3, 3]
    """
    import keras

    if replicas == 1 or (backend or keras.backend.backend()) != "jax":
        return dataset

    def trim(inputs, targets):
        keep = len(targets) // replicas * replicas
        return keras.tree.map_structure(lambda array: array[:keep], inputs), targets[:keep]

    last = len(dataset[len(dataset) - 1][1]) if len(dataset) else 0
    return dataset.map(trim, len(dataset) - (last < replicas))


def check_global_batch(batch_size, replicas):
    """Raises unless `batch_size` splits evenly over the replicas."""
    batch_size = check_positive_int("batch_size", batch_size)
    if batch_size % replicas:
        raise ValueError(
            f"The global batch size must be a multiple of the {replicas} "
            f"replicas so that every device gets an equal share; received "
            f"batch_size={batch_size}."
        )
    return batch_size
