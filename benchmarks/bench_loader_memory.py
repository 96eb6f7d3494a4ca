"""Peak RAM while training on an AVE-size dataset (the visual file is streamed).

Generates the embedded dataset at AVE's full size (4143 videos, of which 3339
train, 10 x 7 x 7 x 512 float32 visual features: 4.2 GB on disk) unless
`--data` is given, then in one process:

1. streams one whole shuffled epoch of the training split through
   `make_dataset` (no model) and times it;
2. trains the paper's supervised model with `keras_avl.training.train` for
   `--steps` batches of 64 (and as many validation batches);

and records the process's peak resident memory (`ru_maxrss`) after each.

Usage:

    python benchmarks/bench_loader_memory.py --work /tmp/ave_full \
        --out benchmarks/results/loader_memory_cpu.json [--keep]
"""

import argparse
import json
import os
import resource
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_mfb import environment  # noqa: E402  (device, backend, versions)


def peak_rss_gib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", required=True, help="scratch folder (needs ~4.5 GB)")
    parser.add_argument("--data", help="an existing AVE-layout folder instead of generating")
    parser.add_argument("--steps", type=int, default=3, help="training batches")
    parser.add_argument("--keep", action="store_true", help="keep the generated dataset")
    parser.add_argument("--out", help="JSON file for the results")
    args = parser.parse_args()

    from keras_avl.atomic import atomic_write_text
    from keras_avl.data import generate_dataset, load_ave, make_dataset
    from keras_avl.training import train

    work = Path(args.work)
    result = {"benchmark": "loader_memory", **environment()}
    start = time.perf_counter()
    root = Path(args.data) if args.data else generate_dataset(work / "ave", size="full", seed=0)
    result["generate_s"] = None if args.data else time.perf_counter() - start
    visual_bytes = (root / "visual_feature.h5").stat().st_size
    result["visual_file_gib"] = visual_bytes / 2**30

    start = time.perf_counter()
    data = load_ave(root)  # includes the block-wise NaN/Inf scan of the visual file
    result["load_and_validate_s"] = time.perf_counter() - start
    result["visual_shape"] = list(data.visual_shape)
    result["peak_rss_after_load_gib"] = peak_rss_gib()

    start = time.perf_counter()
    videos = 0
    for inputs, _ in make_dataset(data, "train", "supervised", batch_size=64):
        videos += int(inputs["visual"].shape[0])
    seconds = time.perf_counter() - start
    result["stream_epoch"] = {"videos": videos, "seconds": seconds,
                              "videos_per_s": videos / seconds}
    result["peak_rss_after_stream_epoch_gib"] = peak_rss_gib()

    start = time.perf_counter()
    train(work / "run", "supervised", data=data, epochs=1, steps_per_epoch=args.steps,
          validation_steps=args.steps, verbose=2)
    result["train"] = {"model": "paper (PaperConfig defaults, d_v=512)", "batch_size": 64,
                       "steps": args.steps, "seconds": time.perf_counter() - start}
    result["peak_rss_after_training_gib"] = peak_rss_gib()
    result["target_peak_rss_gib"] = 4.0

    shutil.rmtree(work / "run", ignore_errors=True)
    if not args.keep and not args.data:
        shutil.rmtree(root, ignore_errors=True)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        atomic_write_text(args.out, text + "\n")


if __name__ == "__main__":
    main()
