"""Forward+backward throughput and peak memory of MFB attention (eqs. 3-6):
the reference `MFBPooling(fused=False)` against `MFBPooling(fused=True)`
(`keras_avl.ops.fused_mfb`), at AVE size and over a sweep of output_dim and
batch.

Each measurement is one compiled step computing attended and attention for
B*T segments and the gradients of a fixed random linear loss w.r.t. the visual
and audio inputs and every weight, as a training step would: `jax.jit` on JAX;
on TensorFlow both `tf.function(jit_compile=True)` (XLA, where the fused op
joins the step's program) and a plain `tf.function` (TensorFlow's own oneDNN
kernels for the reference; the fused op is then an XLA program of its own), as
`keras-avl train --jit-compile on|off` runs them. Times are the median of
`--repeats` calls after a warm-up (compiling) call; the variants of a point and
an n x n x n float32 matrix product (the matmul peak) run in turn, round by
round, in one process, so that their ratios are measured under the same load.
Achieved GFLOP/s counts the multiply-adds of each path's products
(`path_flops`); the elementwise rest is not counted.

Peak memory: on JAX, the compiled step's XLA memory analysis (temporary
buffers + outputs, in bytes, exact for the program). On both backends, the
process's resident set sampled every 2 ms during the timed calls, minus the
resident set just before them (an approximation: allocator caching hides
reuse, so it can read low but not high).

Usage:

    KERAS_BACKEND=tensorflow python benchmarks/bench_mfb.py \
        --out benchmarks/results/mfb_cpu_tensorflow.json
    KERAS_BACKEND=jax python benchmarks/bench_mfb.py \
        --out benchmarks/results/mfb_cpu_jax.json
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time

import numpy as np

AVE = dict(batch=64, segments=10, regions=49, visual_dim=512, audio_dim=128, factor=5, output_dim=256)
OUTPUT_DIM_SWEEP = (64, 128, 512)
BATCH_SWEEP = (8, 16, 32, 128)


def environment():
    """Device, backend and versions, for the JSON of every benchmark."""
    import keras

    cpu_model = "unknown"
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    cpu_model = line.split(":", 1)[1].strip()
                    break
    backend = keras.backend.backend()
    versions = {"python": platform.python_version(), "keras": keras.__version__, "numpy": np.__version__}
    accelerators = []
    if backend == "tensorflow":
        import tensorflow as tf

        versions["tensorflow"] = tf.__version__
        accelerators = [d.name for d in tf.config.list_physical_devices() if d.device_type != "CPU"]
    elif backend == "jax":
        import jax
        import jaxlib

        versions.update(jax=jax.__version__, jaxlib=jaxlib.__version__)
        accelerators = [str(d) for d in jax.devices() if d.platform != "cpu"]
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=os.path.dirname(__file__)
    ).stdout.strip()
    return {
        "backend": backend,
        "commit": commit or None,
        "device": {
            "cpu": cpu_model,
            "cpu_cores": os.cpu_count(),
            "accelerators": accelerators,
            "load_average_at_start": list(os.getloadavg()),
        },
        "versions": versions,
        "argv": sys.argv,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def finish_and_write(report, out):
    """Stamps the end load average and writes `report` as JSON atomically."""
    from keras_avl.atomic import atomic_write_text

    report["device"]["load_average_at_end"] = list(os.getloadavg())
    atomic_write_text(out, json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}")


def block(outputs):
    """Waits for `outputs` (any nest of backend tensors) to be computed."""
    import keras

    if keras.backend.backend() == "jax":
        import jax

        jax.block_until_ready(outputs)
    else:
        keras.tree.map_structure(lambda x: x.numpy() if hasattr(x, "numpy") else x, outputs)


class ResidentPeak:
    """Peak resident set (bytes) above the level at `__enter__`, sampled every
    2 ms from /proc/self/statm by a thread (None where there is no /proc)."""

    def __enter__(self):
        self.page = os.sysconf("SC_PAGE_SIZE")
        self.available = os.path.exists("/proc/self/statm")
        self.base = self.peak = self._resident()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _resident(self):
        if not self.available:
            return 0
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * self.page

    def _sample(self):
        while not self._stop.wait(0.002):
            self.peak = max(self.peak, self._resident())

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._resident())

    @property
    def bytes(self):
        return self.peak - self.base if self.available else None


def time_interleaved(steps, repeats):
    """Times named `(function, args)` steps: one compiling call each, then
    `repeats` rounds calling each once in turn, so that load from other
    processes hits every variant alike. Returns, per name, the call seconds,
    the compile seconds and the largest resident peak of one call."""
    results = {}
    for name, (function, args) in steps.items():
        start = time.perf_counter()
        block(function(*args))
        results[name] = {"seconds": [], "compile_seconds": time.perf_counter() - start, "resident": []}
    for _ in range(repeats):
        for name, (function, args) in steps.items():
            with ResidentPeak() as resident:
                start = time.perf_counter()
                block(function(*args))
                results[name]["seconds"].append(time.perf_counter() - start)
            results[name]["resident"].append(resident.bytes)
    for result in results.values():
        peaks = [peak for peak in result.pop("resident") if peak is not None]
        result["resident_peak_bytes"] = max(peaks) if peaks else None
    return results


def path_flops(point, fused):
    """Floating-point operations (2 per multiply-add) of the products of one
    forward+backward step, gradients w.r.t. the inputs included.

    Both paths: F_a V and its two gradients (3 N d_a q p), the attention logits
    and the attended sum with their gradients (3 N S p + 3 N S d_v). The
    reference: F_v U and its two gradients (3 N S d_v q p). The fused kernel:
    z~ = F_v U~, dF_v and dU~ (3 N S d_v p), and U~ formed twice (forward and
    recomputed), dF_aV and dU (4 N d_v p q)."""
    n = point["batch"] * point["segments"]
    s, d, a = point["regions"], point["visual_dim"], point["audio_dim"]
    q, p = point["factor"], point["output_dim"]
    common = 3 * n * a * q * p + 3 * n * s * p + 3 * n * s * d
    specific = 3 * n * s * d * p + 4 * n * d * p * q if fused else 3 * n * s * d * q * p
    return 2 * (common + specific)


def peak_step(n=2048, seed=0):
    """The n x n x n float32 matrix product that measures the matmul peak, as
    `(function, args, flops)`."""
    import keras

    x = np.random.default_rng(seed).random((n, n), dtype="float32")
    if keras.backend.backend() == "jax":
        import jax

        return jax.jit(lambda a: a @ a), (x,), 2 * n**3
    import tensorflow as tf

    return tf.function(lambda a: tf.matmul(a, a)), (tf.constant(x),), 2 * n**3


def mfb_step(layer, visual, audio, cotangents, jit_compile=True):
    """(compiled step, its argument tuple, XLA memory analysis or None).
    `jit_compile` (TensorFlow only): XLA or a plain `tf.function`."""
    import keras

    attended_cotangent, attention_cotangent = cotangents
    if keras.backend.backend() == "jax":
        import jax

        def loss(weights, visual, audio):
            (attended, attention), _ = layer.stateless_call(weights, [], [visual, audio])
            return (attended * attended_cotangent).sum() + (attention * attention_cotangent).sum()

        step = jax.jit(jax.grad(loss, argnums=(0, 1, 2)))
        args = ([w.value for w in layer.trainable_weights], visual, audio)
        analysis = step.lower(*args).compile().memory_analysis()
        memory = {
            "xla_temp_bytes": int(analysis.temp_size_in_bytes),
            "xla_output_bytes": int(analysis.output_size_in_bytes),
            "xla_argument_bytes": int(analysis.argument_size_in_bytes),
        }
        return step, args, memory
    import tensorflow as tf

    from keras_avl.ops import xla_program

    @tf.function(jit_compile=jit_compile)
    def step(visual, audio):
        # Declared, so that the fused op joins an XLA program of the step.
        with xla_program(jit_compile), tf.GradientTape() as tape:
            tape.watch([visual, audio])
            attended, attention = layer([visual, audio])
            loss = tf.reduce_sum(attended * attended_cotangent) + tf.reduce_sum(
                attention * attention_cotangent
            )
        return tape.gradient(loss, [visual, audio] + layer.trainable_weights)

    return step, (tf.constant(visual), tf.constant(audio)), None


def variants():
    """(name, fused, jit_compile) of the steps measured on this backend."""
    import keras

    names = [("reference", False, True), ("fused", True, True)]
    if keras.backend.backend() == "tensorflow":
        names += [("reference, no XLA", False, False), ("fused, no XLA step", True, False)]
    return names


def measure_point(point, repeats, seed=0):
    """Reference and fused fwd+bwd at one size, and the matmul peak between
    them; returns the JSON record."""
    import keras

    from keras_avl.layers import MFBPooling

    segments = point["batch"] * point["segments"]
    rng = np.random.default_rng(seed)
    # Post-ReLU-like features, as VGG-19 pool5 and VGGish give.
    visual = rng.random((segments, point["regions"], point["visual_dim"]), dtype="float32")
    audio = rng.random((segments, point["audio_dim"]), dtype="float32")
    cotangents = (
        rng.standard_normal((segments, point["visual_dim"])).astype("float32"),
        rng.standard_normal((segments, point["regions"])).astype("float32"),
    )
    record = {"point": dict(point), "segments_per_step": segments}
    steps, memory, weights = {}, {}, None
    flops = {}
    for variant, fused, jit_compile in variants():
        layer = MFBPooling(factor=point["factor"], output_dim=point["output_dim"], fused=fused)
        layer.build([visual.shape, audio.shape])
        weights = layer.get_weights() if weights is None else weights
        layer.set_weights(weights)
        step, args, memory[variant] = mfb_step(layer, visual, audio, cotangents, jit_compile)
        steps[variant] = (step, args)
        flops[variant] = path_flops(point, fused)
    peak, peak_args, flops["matmul peak"] = peak_step()
    steps["matmul peak"] = (peak, peak_args)
    memory["matmul peak"] = None
    for variant, result in time_interleaved(steps, repeats).items():
        median = statistics.median(result["seconds"])
        record[variant] = dict(
            result,
            median_seconds=median,
            flops=flops[variant],
            achieved_gflops=flops[variant] / median / 1e9,
            **(memory[variant] or {}),
        )
        if variant == "matmul peak":
            print(f"matmul peak (2048^3 float32): {flops[variant] / median / 1e9:.1f} GFLOP/s", flush=True)
            continue
        record[variant]["segments_per_second"] = segments / median
        resident = result["resident_peak_bytes"]
        print(
            f"{variant:18s} {point}: {segments / median:10.1f} segments/s (median "
            f"{median * 1e3:.1f} ms, {flops[variant] / median / 1e9:.1f} GFLOP/s), "
            f"resident +{(resident or 0) / 2**20:.0f} MiB"
            + (f", XLA temp {memory[variant]['xla_temp_bytes'] / 2**20:.0f} MiB" if memory[variant] else ""),
            flush=True,
        )
    for variant in record:
        if isinstance(record[variant], dict) and "achieved_gflops" in record[variant]:
            record[variant]["share_of_matmul_peak"] = (
                record[variant]["achieved_gflops"] / record["matmul peak"]["achieved_gflops"]
            )
    # Within one step kind (XLA or not), and fused against the faster
    # reference of either kind: the ratio of the medians, and the median of
    # the ratios within each round (calls seconds apart, under nearly the
    # same load: the steadier figure on a shared machine).
    pairs = {"speedup": ("reference", "fused")}
    if keras.backend.backend() == "tensorflow":
        pairs["speedup_no_xla"] = ("reference, no XLA", "fused, no XLA step")
    for key, (reference, fused) in pairs.items():
        record[key] = record[reference]["median_seconds"] / record[fused]["median_seconds"]
        record[f"{key}_median_of_rounds"] = statistics.median(
            r / f for r, f in zip(record[reference]["seconds"], record[fused]["seconds"])
        )
    if keras.backend.backend() == "tensorflow":
        rounds = zip(*(record[name]["seconds"] for name in
                       ("reference", "reference, no XLA", "fused", "fused, no XLA step")))
        record["speedup_fastest_vs_fastest_median_of_rounds"] = statistics.median(
            min(r, r_graph) / min(f, f_graph) for r, r_graph, f, f_graph in rounds
        )
    print({key: round(value, 3) for key, value in record.items() if key.startswith("speedup")}, flush=True)
    return record


def sweep_points(quick, ave_only=False):
    if quick:
        return [dict(AVE, batch=2, visual_dim=64, audio_dim=16, output_dim=32)]
    points = [dict(AVE)]
    if ave_only:
        return points
    points += [dict(AVE, output_dim=p) for p in OUTPUT_DIM_SWEEP]
    points += [dict(AVE, batch=b) for b in BATCH_SWEEP]
    return points


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="JSON file to write")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per variant")
    parser.add_argument("--quick", action="store_true", help="one tiny point (smoke run)")
    parser.add_argument("--ave-only", action="store_true", help="only the AVE-size point")
    args = parser.parse_args(argv)
    report = environment()
    report.update(
        benchmark="mfb forward+backward",
        repeats=args.repeats,
        memory_note=(
            "xla_*_bytes: compiled-program memory analysis (JAX only). "
            "resident_peak_bytes: RSS sampled every 2 ms during the timed calls "
            "minus RSS before them."
        ),
        points=[measure_point(point, args.repeats) for point in sweep_points(args.quick, args.ave_only)],
    )
    finish_and_write(report, args.out)


if __name__ == "__main__":
    main()
