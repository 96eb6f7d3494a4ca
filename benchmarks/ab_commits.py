"""Training speed of two commits side by side: `bench_train.py` of each
commit (its own checkout, a `git worktree`) runs the same variants in its own
process, the two commits alternating `--rounds` times, so that a ratio is
measured under the same load rather than across runs hours apart. Writes
each process's videos/s and, per variant, the median over rounds and the
ratio new / old.

Usage:

    KERAS_BACKEND=tensorflow python benchmarks/ab_commits.py --old 9240153 --new HEAD \\
        --only avatt "avatt, bf16" --out benchmarks/results/ab_cpu_tensorflow.json
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def resolve(commit):
    return subprocess.run(["git", "rev-parse", commit], cwd=REPO, check=True,
                          capture_output=True, text=True).stdout.strip()


def main(argv=None):
    from bench_mfb import environment, finish_and_write

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--old", required=True)
    parser.add_argument("--new", default="HEAD")
    parser.add_argument("--only", nargs="+", required=True, help="bench_train.py variant names")
    parser.add_argument("--rounds", type=int, default=2, help="processes per commit, alternating")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--visual-dim", type=int, default=512)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    report = environment()
    commits = {"old": resolve(args.old), "new": resolve(args.new)}
    runs = {"old": [], "new": []}
    with tempfile.TemporaryDirectory() as scratch:
        trees = {}
        for side, commit in commits.items():
            trees[side] = os.path.join(scratch, side)
            subprocess.run(["git", "worktree", "add", "--detach", trees[side], commit], cwd=REPO,
                           check=True, capture_output=True)
        try:
            for round_index in range(args.rounds):
                for side in ("old", "new"):
                    out = os.path.join(scratch, f"{side}_{round_index}.json")
                    subprocess.run(
                        [sys.executable, "benchmarks/bench_train.py", "--only", *args.only,
                         "--steps", str(args.steps), "--rounds", "1",
                         "--visual-dim", str(args.visual_dim), "--out", out],
                        cwd=trees[side], check=True, capture_output=True,
                        env=dict(os.environ, PYTHONPATH=trees[side]))
                    with open(out) as result:
                        data = json.load(result)
                    speeds = {r["name"]: r["videos_per_second"] for r in data["results"]}
                    runs[side].append(dict(load_average=data["device"]["load_average_at_start"],
                                           videos_per_second=speeds))
                    print(side, round_index, {k: round(v, 1) for k, v in speeds.items()}, flush=True)
        finally:
            for tree in trees.values():
                subprocess.run(["git", "worktree", "remove", "--force", tree], cwd=REPO,
                               capture_output=True)
    medians = {side: {name: statistics.median(run["videos_per_second"][name] for run in runs[side])
                      for name in args.only} for side in runs}
    ratios = {name: medians["new"][name] / medians["old"][name] for name in args.only}
    for name, ratio in ratios.items():
        print(f"{name:30s} old {medians['old'][name]:7.1f}  new {medians['new'][name]:7.1f} videos/s"
              f"  {ratio:5.2f}x")
    report.update(benchmark="training videos/s of two commits, alternating processes",
                  commits=commits, variants=args.only, rounds=args.rounds, steps=args.steps,
                  visual_dim=args.visual_dim, runs=runs, median_videos_per_second=medians,
                  new_over_old=ratios)
    finish_and_write(report, args.out)


if __name__ == "__main__":
    main()
