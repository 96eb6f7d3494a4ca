"""Where a method's train step goes by TensorFlow op, from TensorFlow's own
profiler: `--steps` steady-state train steps (`model.fit`, as
`bench_train.py` times them) under `tf.profiler.experimental`, the trace's
op events summed per op (and per op type) over TensorFlow's compute
threads and divided by the steps. On the 2-core CPU two threads run ops at
once, so the per-step sums add up to about twice the step's wall time.

Usage:

    KERAS_BACKEND=tensorflow python benchmarks/profile_ops.py --method avatt --mixed \\
        --out benchmarks/results/profile_ops_avatt_bf16_cpu_tensorflow.json
"""

import argparse
import collections
import glob
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def op_times(logdir):
    """{op name: seconds}, {op type: seconds} over the compute threads of the
    trace in `logdir`."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    path = sorted(glob.glob(os.path.join(logdir, "**", "*.xplane.pb"), recursive=True))[-1]
    space = xplane_pb2.XSpace()
    with open(path, "rb") as trace:
        space.ParseFromString(trace.read())
    by_name, by_type = collections.Counter(), collections.Counter()
    for plane in space.planes:
        for line in plane.lines:
            if not line.name.startswith("tf_Compute"):
                continue
            for event in line.events:
                full = plane.event_metadata[event.metadata_id].name
                if ":" not in full or full.startswith("ExecutorState"):
                    continue  # the executor's bookkeeping around the ops
                name, op_type = full.rsplit(":", 1)
                by_name[f"{name} ({op_type})"] += event.duration_ps / 1e12
                by_type[op_type] += event.duration_ps / 1e12
    return by_name, by_type


def main(argv=None):
    import tensorflow as tf

    from bench_mfb import environment, finish_and_write
    from bench_train import add_method_arguments, method_from_arguments, timed_steps

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True)
    add_method_arguments(parser)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args(argv)
    report = environment()
    model, options, _, dataset = method_from_arguments(args)
    timed_steps(model, dataset, args.steps)  # compiles
    with tempfile.TemporaryDirectory() as logdir:
        tf.profiler.experimental.start(logdir)
        step_seconds = timed_steps(model, dataset, args.steps)
        tf.profiler.experimental.stop()
        by_name, by_type = op_times(logdir)
    steps = args.steps  # the profile covers every step of the fit call
    per_step = lambda counter: [dict(op=k, milliseconds_per_step=1000 * v / steps)
                                for k, v in counter.most_common(args.top)]
    print(f"step (median of the profiled fit's steps): {1000 * sorted(step_seconds)[len(step_seconds) // 2]:.1f} ms")
    for title, rows in (("op types", per_step(by_type)), ("ops", per_step(by_name))):
        print(f"-- {title}, ms per step summed over the compute threads")
        for row in rows:
            print(f"{row['milliseconds_per_step']:8.2f}  {row['op'][-110:]}")
    report.update(benchmark=f"{args.method}'s train step by TensorFlow op (TensorFlow profiler)",
                  method=args.method, options=options, batch=args.batch, visual_dim=args.visual_dim,
                  steps=steps, step_seconds=step_seconds,
                  compute_thread_seconds_per_step=sum(by_type.values()) / steps,
                  op_types=per_step(by_type), ops=per_step(by_name))
    finish_and_write(report, args.out)


if __name__ == "__main__":
    main()
