"""Test accuracy of `--mixed-precision` (bfloat16 on CPU) against float32 on
the same seeds: is the faster path as accurate?

For each `--models` variant and each seed, trains the supervised model twice
on the embedded default (`keras_avl.training.train`, deterministic ops, epoch
selected on val), once in float32 and once under the mixed bfloat16 policy,
and evaluates both on the test split. Writes per-seed accuracies, pointing
games and training seconds, and mean ± std per precision, with device,
versions and commit.

Usage:

    KERAS_BACKEND=tensorflow python benchmarks/bf16_accuracy.py --models avatt-adam \\
        --seeds 0,1,2 --out benchmarks/results/bf16_accuracy_cpu_tensorflow.json
"""

import argparse
import statistics
import time
from pathlib import Path

from bench_mfb import environment, finish_and_write


def summary(values):
    return {"mean": statistics.mean(values),
            "std": statistics.stdev(values) if len(values) > 1 else 0.0,
            "values": values}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="avatt-adam", help="comma-separated variants")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--runs-dir", default="runs/bf16_accuracy")
    parser.add_argument("--out", required=True, help="JSON file to write")
    args = parser.parse_args(argv)

    from keras_avl.training import evaluate, train

    report = environment()
    report.update(benchmark="bfloat16 vs float32 test accuracy over seeds",
                  epochs=args.epochs, results=[])
    seeds = [int(seed) for seed in args.seeds.split(",")]
    for variant in args.models.split(","):
        row = {"variant": variant, "per_seed": []}
        for seed in seeds:
            entry = {"seed": seed}
            for precision, mixed in (("float32", False), ("bfloat16", True)):
                run_dir = Path(args.runs_dir) / f"{variant}-{precision}" / f"seed{seed}"
                started = time.perf_counter()
                run = train(run_dir, "supervised", variant, epochs=args.epochs, seed=seed,
                            mixed_precision=mixed, deterministic=True, verbose=0,
                            resume=run_dir.exists())
                seconds = time.perf_counter() - started
                result = evaluate(run, "test")
                entry[precision] = {"segment_accuracy": result["segment_accuracy"],
                                    "pointing_game": result["pointing_game"],
                                    "train_seconds": seconds}
                print(variant, seed, precision, entry[precision], flush=True)
            row["per_seed"].append(entry)
        for precision in ("float32", "bfloat16"):
            row[precision] = {
                metric: summary([entry[precision][metric] for entry in row["per_seed"]])
                for metric in ("segment_accuracy", "pointing_game", "train_seconds")
            }
        report["results"].append(row)
    finish_and_write(report, args.out)


if __name__ == "__main__":
    main()
