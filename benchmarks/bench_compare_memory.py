"""Resident memory of one `compare` of many runs in one process.

Runs `keras_avl.training.compare` on the tiny embedded default (the paper's
model, supervised, `--runs` seeds of `--epochs` epochs each) and records the
process's resident memory (`VmRSS` of /proc/self/status) after each run
(trained and evaluated). A pipeline or callback that outlives its run shows
as a steady climb; the target is RSS after run 30 within 10 % of after run 2.

Usage (each `--label` is one entry of the JSON, which keeps the others):

    python benchmarks/bench_compare_memory.py --runs 30 --label after \\
        --out benchmarks/results/compare_memory_cpu_tensorflow.json
"""

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_mfb import environment  # noqa: E402  (device, backend, versions)


def resident_mib(status="/proc/self/status"):
    """VmRSS of this process in MiB."""
    with open(status, encoding="utf-8") as lines:
        for line in lines:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"No VmRSS line in {status}.")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30, help="runs (seeds) of the compare")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--size", default="tiny", help="embedded default size")
    parser.add_argument("--label", default="after", help="the JSON entry written")
    parser.add_argument("--out", help="JSON file for the results (entries merged)")
    args = parser.parse_args()

    os.environ.setdefault("KERAS_AVL_HOME", tempfile.mkdtemp())
    import keras_avl.training  # noqa: F401  (its `compare` attribute is the function)

    compare_module = sys.modules["keras_avl.training.compare"]

    after_runs = []
    evaluate = compare_module.evaluate

    def evaluate_and_measure(*positional, **named):
        result = evaluate(*positional, **named)
        after_runs.append(round(resident_mib(), 1))
        print(f"run {len(after_runs)}: RSS {after_runs[-1]:.0f} MiB", flush=True)
        write(time.perf_counter() - start)  # so that a stopped benchmark keeps its runs
        return result

    def write(wall):
        growth = after_runs[-1] / after_runs[1] - 1 if len(after_runs) > 1 else None
        entry = {"runs": args.runs, "runs_done": len(after_runs), "epochs": args.epochs,
                 "embedded_size": args.size, "model": "paper", "regime": "supervised",
                 "wall_s": round(wall, 1), "rss_mib_after_run": after_runs,
                 "growth_last_vs_run2": None if growth is None else round(growth, 4),
                 **env}
        if args.out:
            path = Path(args.out)
            results = (json.loads(path.read_text()) if path.exists()
                       else {"benchmark": "compare_memory"})
            results[args.label] = entry
            path.write_text(json.dumps(results, indent=1) + "\n")
        return entry

    env = environment()

    compare_module.evaluate = evaluate_and_measure  # after every run's evaluate
    start = time.perf_counter()
    compare_module.compare(tempfile.mkdtemp(), models=["paper"], epochs=args.epochs,
                           verbose=0, embedded_size=args.size, seeds=args.runs)
    entry = write(time.perf_counter() - start)
    print(json.dumps({k: v for k, v in entry.items() if k != "rss_mib_after_run"}))


if __name__ == "__main__":
    main()
