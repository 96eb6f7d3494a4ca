"""End-to-end training throughput (videos/s) of the supervised models at AVE
size: the paper's model (`build_supervised(AVLConfig())`) with MFB fused and
not, and the A+V-att baseline (`variant_config("avatt")`).

The batch is made once and put in device memory (backend tensors) before
timing; each step is `model.train_on_batch` (the model's compiled train step:
XLA on both TensorFlow and JAX) after `--warmup` steps that compile it. Times
are per step, the median over `--steps`; variants alternate step by step so
that load from other processes hits them alike. An AVE epoch is 3,339 training
videos.

`MFBPooling` runs its reference path whenever its dropout is active, so the
`mfb_dropout=0.1` row (the paper model with MFB dropout, fused=True) trains on
the reference path; `AVLConfig().mfb_dropout` is 0, as in the paper.

Usage:

    KERAS_BACKEND=tensorflow python benchmarks/bench_train.py \
        --out benchmarks/results/train_cpu_tensorflow.json
"""

import argparse
import statistics
import time

import numpy as np
from bench_mfb import ResidentPeak, block, environment, finish_and_write

AVE_TRAIN_VIDEOS = 3339


def variants():
    """name -> (config, fused) of the measured models."""
    from keras_avl.models import AVLConfig, variant_config

    paper = AVLConfig()
    return {
        "paper, fused": (paper, True),
        "paper, reference": (paper, False),
        "paper mfb_dropout=0.1, fused": (paper.replace(mfb_dropout=0.1), True),
        "avatt baseline": (variant_config("avatt"), False),
    }


def build(config, fused):
    """The compiled supervised model, its MFB layers set to `fused`."""
    from keras_avl.layers import MFBPooling
    from keras_avl.models import build_supervised

    model = build_supervised(config)
    # The train step is traced at the first call, so the switch takes effect.
    for layer in model._flatten_layers():
        if isinstance(layer, MFBPooling):
            layer.fused = fused
    return model


def device_batch(config, batch, seed=0):
    from keras import ops

    rng = np.random.default_rng(seed)
    height, width = config.grid
    x = {
        "visual": rng.random((batch, config.segments, height, width, config.visual_dim), dtype="float32"),
        "audio": rng.random((batch, config.segments, config.audio_dim), dtype="float32"),
    }
    labels = rng.integers(0, config.num_classes, (batch, config.segments))
    y = np.eye(config.num_classes, dtype="float32")[labels]
    return {k: ops.convert_to_tensor(v) for k, v in x.items()}, ops.convert_to_tensor(y)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="JSON file to write")
    parser.add_argument("--batch", type=int, default=64, help="videos per step")
    parser.add_argument("--steps", type=int, default=5, help="timed steps per model")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps per model")
    parser.add_argument("--only", nargs="*", help="names of variants to run (default all)")
    args = parser.parse_args(argv)
    report = environment()
    chosen = {k: v for k, v in variants().items() if not args.only or k in args.only}
    models, batches = {}, {}
    for name, (config, fused) in chosen.items():
        models[name] = build(config, fused)
        batches[name] = device_batch(config, args.batch)
    records = {}
    for name, model in models.items():
        start = time.perf_counter()
        for _ in range(args.warmup):
            block(model.train_on_batch(*batches[name], return_dict=True))
        records[name] = {"warmup_seconds": time.perf_counter() - start, "seconds": [], "resident": []}
    for _ in range(args.steps):
        for name, model in models.items():
            with ResidentPeak() as resident:
                start = time.perf_counter()
                block(model.train_on_batch(*batches[name], return_dict=True))
                records[name]["seconds"].append(time.perf_counter() - start)
            records[name]["resident"].append(resident.bytes)
    results = []
    for name, record in records.items():
        config, fused = chosen[name]
        median = statistics.median(record["seconds"])
        peaks = [peak for peak in record.pop("resident") if peak is not None]
        result = dict(
            name=name,
            fused=fused,
            config=config.to_dict(),
            parameters=models[name].count_params(),
            **record,
            resident_peak_bytes=max(peaks) if peaks else None,
            median_step_seconds=median,
            videos_per_second=args.batch / median,
            ave_epoch_seconds=AVE_TRAIN_VIDEOS * median / args.batch,
        )
        results.append(result)
        print(f"{name:32s} {result['videos_per_second']:8.1f} videos/s (median step {median:.3f} s)", flush=True)
    report.update(
        benchmark="supervised training throughput",
        batch=args.batch,
        steps=args.steps,
        warmup=args.warmup,
        ave_train_videos=AVE_TRAIN_VIDEOS,
        results=results,
    )
    finish_and_write(report, args.out)


if __name__ == "__main__":
    main()
