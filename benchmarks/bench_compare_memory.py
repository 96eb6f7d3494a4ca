"""Resident memory of one `compare` of many runs.

Runs `keras_avl.training.compare` (the paper's model or `--model`,
supervised, `--runs` seeds of `--epochs` epochs each) and records, after each
run (trained and evaluated), the resident memory of the `compare` process
(`VmRSS` of /proc/self/status) and the peak resident memory of any run's
process so far (`ru_maxrss` of the waited-for children; 0 when every run
trains in the caller's process, `--in-process`). A pipeline, a callback or a
traced graph that outlives its run shows as a steady climb of the first;
the target is RSS after run 30 within 10 % of after run 2.

Usage (each `--label` is one entry of the JSON, which keeps the others):

    python benchmarks/bench_compare_memory.py --runs 30 --label fresh-process \\
        --out benchmarks/results/compare_memory_cpu_tensorflow.json
    python benchmarks/bench_compare_memory.py --runs 30 --in-process --label in-process \\
        --out benchmarks/results/compare_memory_cpu_tensorflow.json
    KERAS_AVL_HOME=/tmp/avlhome python benchmarks/bench_compare_memory.py --size full \\
        --model avatt-adam --runs 5 --label ave-size \\
        --out benchmarks/results/compare_memory_cpu_tensorflow.json
"""

import argparse
import json
import os
import resource
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


def children_peak_mib():
    """The largest peak resident memory of the waited-for child processes."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30, help="runs (seeds) of the compare")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--size", default="tiny", help="embedded default size")
    parser.add_argument("--model", default="paper")
    parser.add_argument("--in-process", action="store_true",
                        help="every run in the compare's process (`isolate_runs=False`)")
    parser.add_argument("--label", default="fresh-process", help="the JSON entry written")
    parser.add_argument("--out", help="JSON file for the results (entries merged)")
    args = parser.parse_args()

    os.environ.setdefault("KERAS_AVL_HOME", tempfile.mkdtemp())
    import keras_avl.training  # noqa: F401  (its `compare` attribute is the function)

    compare_module = sys.modules["keras_avl.training.compare"]
    env = environment()
    after_runs, child_peaks, seconds = [], [], []
    report = compare_module._Progress.report

    def report_and_measure(progress, name, run_seconds, trained):
        report(progress, name, run_seconds, trained)
        after_runs.append(round(resident_mib(), 1))
        child_peaks.append(round(children_peak_mib(), 1))
        seconds.append(round(run_seconds, 1))
        print(f"run {len(after_runs)}: RSS {after_runs[-1]:.0f} MiB, run processes' peak "
              f"{child_peaks[-1]:.0f} MiB, {run_seconds:.1f} s", flush=True)
        write(time.perf_counter() - start)  # so that a stopped benchmark keeps its runs

    def write(wall):
        growth = after_runs[-1] / after_runs[1] - 1 if len(after_runs) > 1 else None
        entry = {"runs": args.runs, "runs_done": len(after_runs), "epochs": args.epochs,
                 "embedded_size": args.size, "model": args.model, "regime": "supervised",
                 "isolate_runs": not args.in_process, "wall_s": round(wall, 1),
                 "seconds_per_run": seconds, "rss_mib_after_run": after_runs,
                 "run_process_peak_mib_after_run": child_peaks,
                 "growth_last_vs_run2": None if growth is None else round(growth, 4),
                 "load_average_at_end": os.getloadavg(), **env}
        if args.out:
            path = Path(args.out)
            results = (json.loads(path.read_text()) if path.exists()
                       else {"benchmark": "compare_memory"})
            results[args.label] = entry
            path.write_text(json.dumps(results, indent=1) + "\n")
        return entry

    compare_module._Progress.report = report_and_measure
    start = time.perf_counter()
    compare_module.compare(tempfile.mkdtemp(), models=[args.model], epochs=args.epochs,
                           verbose=0, embedded_size=args.size, seeds=args.runs,
                           isolate_runs=not args.in_process)
    entry = write(time.perf_counter() - start)
    print(json.dumps({k: v for k, v in entry.items()
                      if k not in ("rss_mib_after_run", "run_process_peak_mib_after_run",
                                   "seconds_per_run")}))


if __name__ == "__main__":
    main()
