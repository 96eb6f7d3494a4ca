"""The data pipeline (`AVEBatches`, a `keras.utils.PyDataset`) against the
`tf.data.Dataset.from_generator` pipeline it replaced, under TensorFlow.

In one process, alternating `--repeats` times: (1) batches/s of one
shuffled pass over the training split of the embedded default (the PyDataset
indexed directly; the old pipeline: `from_generator` over the same batches,
`prefetch(2)`, as before); (2) the wall time of one `fit` epoch of the
paper's supervised model (batch 64, XLA off) on each. Medians are reported.

Usage:

    KERAS_BACKEND=tensorflow python benchmarks/bench_pipeline.py --size small \\
        --out benchmarks/results/pipeline_cpu_tensorflow_small.json
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_mfb import environment  # noqa: E402  (device, backend, versions)


def tf_data_pipeline(batches):
    """The replaced pipeline: a generator over one pass, `from_generator`,
    `prefetch(2)` (what `make_dataset` returned before the PyDataset)."""
    import tensorflow as tf

    inputs, targets = batches[0]
    spec = tf.TensorSpec
    signature = ({key: spec((None,) + value.shape[1:], tf.float32) for key, value in inputs.items()},
                 spec((None,) + targets.shape[1:], tf.float32))
    dataset = tf.data.Dataset.from_generator(lambda: iter(batches), output_signature=signature)
    return dataset.apply(tf.data.experimental.assert_cardinality(len(batches))).prefetch(2)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="tiny", help="embedded default size")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", help="JSON file for the results")
    args = parser.parse_args()
    os.environ.setdefault("KERAS_AVL_HOME", tempfile.mkdtemp())

    from keras_avl.data import make_dataset, resolve_data
    from keras_avl.models import build_model, get
    from keras_avl.training.train_step import configure_train_step

    data, _ = resolve_data(None, args.size)
    batches = make_dataset(data, "train", "supervised", 64)
    old = tf_data_pipeline(batches)
    config = get("paper").config(**data.model_config_kwargs())
    model = build_model(config, "supervised")
    configure_train_step(model, jit_compile=False)
    model.fit(batches, epochs=1, verbose=0)  # traced once, outside the clock
    model.fit(old, epochs=1, verbose=0)
    times = {"pass_new_s": [], "pass_old_s": [], "epoch_new_s": [], "epoch_old_s": []}
    for _ in range(args.repeats):
        start = time.perf_counter()
        for batch in batches:
            pass
        times["pass_new_s"].append(time.perf_counter() - start)
        start = time.perf_counter()
        for batch in old:
            pass
        times["pass_old_s"].append(time.perf_counter() - start)
        start = time.perf_counter()
        model.fit(batches, epochs=1, verbose=0, shuffle=False)
        times["epoch_new_s"].append(time.perf_counter() - start)
        start = time.perf_counter()
        model.fit(old, epochs=1, verbose=0, shuffle=False)
        times["epoch_old_s"].append(time.perf_counter() - start)
    median = {key: statistics.median(values) for key, values in times.items()}
    result = {
        "benchmark": "pipeline", "size": args.size, "batches_per_pass": len(batches),
        "videos": len(data.orders["train"]), "repeats": args.repeats, "times": times,
        "batches_per_s_new": len(batches) / median["pass_new_s"],
        "batches_per_s_old": len(batches) / median["pass_old_s"],
        "epoch_s_new": median["epoch_new_s"], "epoch_s_old": median["epoch_old_s"],
        **environment(),
    }
    print(json.dumps({k: v for k, v in result.items() if k != "times"}, indent=1))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
