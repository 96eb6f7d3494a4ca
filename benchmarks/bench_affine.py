"""Forward + backward of x W + b through a ReLU at A+V-att's AVE size (the
region projection of `AudioGuidedAttention`: 64 videos x 10 segments x 49
regions = 31,360 rows, 512 -> 512), written with `keras.ops` and autodiff
against `keras_avl.ops.affine` (every gradient a matrix product), float32
and bfloat16; and the bias gradient alone, as the backend's column reduction
against the product 1_N^T G.

As in a train step, the gradients are taken with respect to the weight and
the bias (the visual features are the model's input). Each step is compiled
(`tf.function` on TensorFlow, Keras' default on a CPU; `jax.jit` on JAX); the
variants run in turn, round by round, in one process (`bench_mfb.
time_interleaved`), median of `--repeats` calls.

Usage:

    KERAS_BACKEND=tensorflow python benchmarks/bench_affine.py \\
        --out benchmarks/results/affine_cpu_tensorflow.json
"""

import argparse
import os
import statistics
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def compiled(function):
    import keras

    if keras.backend.backend() == "jax":
        import jax

        return jax.jit(function)
    import tensorflow as tf

    return tf.function(function)


def gradient_step(forward, x, kernel, bias, downstream):
    """A compiled function returning d/d(kernel, bias) of sum(forward(x) @ downstream)."""
    import keras
    from keras import ops

    def loss(kernel, bias):
        return ops.sum(ops.cast(ops.matmul(forward(x, kernel, bias), downstream), "float32"))

    if keras.backend.backend() == "jax":
        import jax

        return compiled(lambda k, b: jax.grad(loss, argnums=(0, 1))(k, b)), (kernel, bias)
    import tensorflow as tf

    def step(kernel, bias):
        with tf.GradientTape() as tape:
            tape.watch([kernel, bias])
            total = loss(kernel, bias)
        return tape.gradient(total, [kernel, bias])

    return compiled(step), (kernel, bias)


def main(argv=None):
    from keras import ops

    from bench_mfb import environment, finish_and_write, time_interleaved
    from keras_avl.ops import affine

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--shape", type=int, nargs="+", default=[64, 10, 49, 512],
                        help="input shape (..., d_in); d_out = d_in")
    args = parser.parse_args(argv)
    report = environment()
    rng = np.random.default_rng(0)
    shape, width = tuple(args.shape), args.shape[-1]
    steps = {}
    for dtype in ("float32", "bfloat16"):
        x = ops.cast(rng.normal(size=shape).astype("float32"), dtype)
        kernel = ops.cast((rng.normal(size=(width, width)) / np.sqrt(width)).astype("float32"), dtype)
        bias = ops.cast(rng.normal(size=(width,)).astype("float32") * 0.1, dtype)
        # the next layer of the attention (512 -> 49 in A+V-att)
        downstream = ops.cast(rng.normal(size=(width, 49)).astype("float32"), dtype)
        steps[f"{dtype} keras.ops + autodiff"] = gradient_step(
            lambda x, k, b: ops.relu(ops.matmul(x, k) + b), x, kernel, bias, downstream)
        steps[f"{dtype} keras_avl.ops.affine"] = gradient_step(
            lambda x, k, b: affine(x, k, b, relu=True), x, kernel, bias, downstream)
        rows = ops.reshape(x, (-1, width))
        ones = ops.ones((1, rows.shape[0]), dtype)
        steps[f"{dtype} bias gradient: column sum"] = (compiled(lambda g: ops.sum(g, axis=0)), (rows,))
        steps[f"{dtype} bias gradient: 1^T G"] = (compiled(lambda g: ops.matmul(ones, g)), (rows,))
    loads = [list(os.getloadavg())]
    results = time_interleaved(steps, args.repeats)
    loads.append(list(os.getloadavg()))
    for name, result in results.items():
        result["median_seconds"] = statistics.median(result["seconds"])
        print(f"{name:42s} {1000 * result['median_seconds']:8.2f} ms", flush=True)
    ratios = {}
    for dtype in ("float32", "bfloat16"):
        median = lambda suffix: results[f"{dtype} {suffix}"]["median_seconds"]
        ratios[f"{dtype} affine vs autodiff"] = median("keras.ops + autodiff") / median("keras_avl.ops.affine")
        ratios[f"{dtype} bias gradient product vs sum"] = (
            median("bias gradient: column sum") / median("bias gradient: 1^T G"))
    for name, ratio in ratios.items():
        print(f"{name:42s} {ratio:8.2f}x")
    report.update(benchmark="x W + b through a ReLU, fwd + bwd (weight and bias gradients), AVE size",
                  shape=list(shape), repeats=args.repeats, load_average_before_after=loads,
                  results=results, speedups=ratios)
    finish_and_write(report, args.out)


if __name__ == "__main__":
    main()
