"""Training time per AVE epoch of every method of the AVE benchmark at AVE
size on this machine: the paper's model and A+V-att
beside AVSDN, PSP and CMBS (`keras_avl.models.registry.METHODS`), supervised and weak.

Each model is built at its default (paper / public-code) size, compiled as its
builder compiles it, and trained with `model.train_on_batch` on one random
batch of AVE shapes (49 regions x 512 channels, 128-d audio, 29 classes) held
in backend tensors; `--warmup` untimed steps compile the step, then the rows
alternate step by step for `--steps` rounds so that load from other processes
hits them alike. The figure per row is the median step time; an AVE epoch is
3,339 training videos (3,339 + 178 background videos for the weak regime), all
rows at the same `--batch` so that their ratios compare the models, not the
recipes' batch sizes.

Usage:

    KERAS_BACKEND=tensorflow python benchmarks/bench_methods.py \
        --out benchmarks/results/methods_cpu_tensorflow.json
"""

import argparse
import statistics
import time

import numpy as np
from bench_mfb import block, environment, finish_and_write
from bench_train import AVE_TRAIN_VIDEOS, device_batch

AVE_NOISY_VIDEOS = 178


def rows():
    """name -> (config, regime) of the measured models."""
    from keras_avl.models import METHODS

    chosen = {}
    for name, method in METHODS.items():
        if name == "ezvsl":  # no labels: not a method of the AVE benchmark
            continue
        for regime in method.regimes:
            chosen[f"{name} {regime}"] = (method.config_class(), regime)
    return chosen


def batch_for(model, config, regime, batch):
    from keras import ops

    from keras_avl.models.registry import fit_targets

    x, y = device_batch(config, batch)
    if regime == "weak":
        y = ops.convert_to_tensor(np.asarray(y)[:, 0])
    targets = fit_targets(model)
    return targets(x, y) if targets else (x, y)


def main(argv=None):
    from keras_avl.models import build_model

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="JSON file to write")
    parser.add_argument("--batch", type=int, default=64, help="videos per step")
    parser.add_argument("--steps", type=int, default=3, help="timed steps per model")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps per model")
    parser.add_argument("--only", nargs="*", help="names of rows to run (default all)")
    args = parser.parse_args(argv)
    report = environment()
    chosen = {k: v for k, v in rows().items() if not args.only or k in args.only}
    models, batches, records = {}, {}, {}
    for name, (config, regime) in chosen.items():
        models[name] = build_model(config, regime)
        batches[name] = batch_for(models[name], config, regime, args.batch)
        start = time.perf_counter()
        for _ in range(args.warmup):
            block(models[name].train_on_batch(*batches[name], return_dict=True))
        records[name] = {"warmup_seconds": time.perf_counter() - start, "seconds": []}
        print(f"{name}: compiled in {records[name]['warmup_seconds']:.1f} s", flush=True)
    for _ in range(args.steps):
        for name, model in models.items():
            start = time.perf_counter()
            block(model.train_on_batch(*batches[name], return_dict=True))
            records[name]["seconds"].append(time.perf_counter() - start)
    reference = None
    results = []
    for name, record in records.items():
        config, regime = chosen[name]
        median = statistics.median(record["seconds"])
        videos = AVE_TRAIN_VIDEOS + (AVE_NOISY_VIDEOS if regime == "weak" else 0)
        epoch = videos * median / args.batch
        reference = reference or epoch
        results.append(dict(
            name=name, regime=regime, method=getattr(config, "method", None) or "paper",
            config=config.to_dict(), parameters=models[name].count_params(), **record,
            median_step_seconds=median, ave_epoch_seconds=epoch,
            epoch_time_vs_first_row=epoch / reference,
        ))
        print(f"{name:20s} {epoch:8.1f} s / AVE epoch  (x{epoch / reference:.2f}, "
              f"median step {median:.3f} s, {models[name].count_params():,} parameters)",
              flush=True)
    report.update(benchmark="training time per AVE epoch, every method", batch=args.batch,
                  steps=args.steps, warmup=args.warmup, ave_train_videos=AVE_TRAIN_VIDEOS,
                  ave_noisy_videos=AVE_NOISY_VIDEOS, results=results)
    finish_and_write(report, args.out)


if __name__ == "__main__":
    main()
