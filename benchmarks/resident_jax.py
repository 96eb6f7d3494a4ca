"""Device-resident training under JAX: the training split's features are put
on the device once (bfloat16 where asked), every epoch is shuffled and cut
into batches there, and one compiled call runs `--batches-per-call` train
steps (`jax.lax.scan` over batches) of the supervised model, so the host does
no per-batch work at all. A benchmark trainer, not the library's `train`:
it shows how fast the device can go and is what `gpu_suite.sh` measures.

Bad input is refused before any training: an unknown `--device` kind (one that
JAX does not have), and features that do not fit in the device's free memory
(the message says how much is needed and how much is available).

Usage:

    KERAS_BACKEND=jax python benchmarks/resident_jax.py --device gpu \\
        --variant paper --videos 3339 --visual-dim 512 --bf16 \\
        --out benchmarks/results/resident_gpu_paper.json
"""

import argparse
import statistics
import time

import numpy as np
from bench_mfb import environment, finish_and_write
from bench_train import model_config, random_batches

# Share of the device's free memory the features may take (the model, its
# gradients, optimizer state and activations need the rest).
MEMORY_SHARE = 0.5


def device_of(kind):
    """The first JAX device of platform `kind` ("cpu", "gpu", "tpu")."""
    import jax

    try:
        devices = jax.devices(kind)
    except RuntimeError as error:
        platforms = sorted({d.platform for d in jax.devices()})
        raise ValueError(
            f"--device {kind!r}: JAX has no such device here; available device kinds: "
            f"{platforms} ({error})."
        ) from None
    return devices[0]


def free_device_bytes(device):
    """Free memory of `device` in bytes: the allocator's limit minus what is in
    use (accelerators); MemAvailable for the CPU. None if unknown."""
    stats = device.memory_stats() if device.platform != "cpu" else None
    if stats and "bytes_limit" in stats:
        return int(stats["bytes_limit"]) - int(stats.get("bytes_in_use", 0))
    from keras_avl.data.pipeline import available_memory_bytes

    return available_memory_bytes()


def check_fits(needed, device, share=MEMORY_SHARE):
    free = free_device_bytes(device)
    if free is not None and needed > share * free:
        raise ValueError(
            f"The device-resident features need {needed / 2**30:.2f} GiB on {device}, "
            f"but {free / 2**30:.2f} GiB is free there and at most {share:.0%} of it is "
            "given to features; use fewer --videos, --bf16, or the streaming path "
            "(keras_avl.data.make_dataset)."
        )
    return free


class ResidentTrainer:
    """Features on `device`, shuffled and batched there; compiled multi-step
    training of `model` (a compiled Keras model: its loss and optimizer)."""

    def __init__(self, model, x, y, device, batch, batches_per_call, dtype="float32", seed=0):
        import jax
        import jax.numpy as jnp

        import keras

        self.model, self.batch, self.batches_per_call = model, batch, batches_per_call
        self.loss_fn = keras.losses.get(model.loss)
        arrays = {**x, "labels": y}
        needed = sum(a.size * (2 if dtype == "bfloat16" and k != "labels" else 4) for k, a in arrays.items())
        self.free_bytes = check_fits(needed, device)
        self.needed_bytes = needed
        cast = {k: (a.astype(jnp.bfloat16) if dtype == "bfloat16" and k != "labels" else a) for k, a in arrays.items()}
        self.data = jax.device_put(cast, device)
        self.count = len(y)
        self.key = jax.random.PRNGKey(seed)
        model.optimizer.build(model.trainable_variables)
        self.state = jax.device_put(
            tuple([v.value for v in group] for group in (
                model.trainable_variables, model.non_trainable_variables, model.optimizer.variables)),
            device,
        )
        self.run_calls = jax.jit(self._calls, donate_argnums=0)

    def _step(self, state, indices):
        import jax

        trainable, non_trainable, optimizer_state = state
        x = {k: v[indices] for k, v in self.data.items() if k != "labels"}
        y = self.data["labels"][indices]

        def loss(trainable):
            y_pred, new_non_trainable = self.model.stateless_call(trainable, non_trainable, x, training=True)
            return jax.numpy.mean(self.loss_fn(y, y_pred)), new_non_trainable

        (value, non_trainable), grads = jax.value_and_grad(loss, has_aux=True)(trainable)
        trainable, optimizer_state = self.model.optimizer.stateless_apply(optimizer_state, grads, trainable)
        return (trainable, non_trainable, optimizer_state), value

    def _calls(self, state, batches):
        import jax

        return jax.lax.scan(self._step, state, batches)

    def epoch_batches(self, epoch):
        """The epoch's batches of indices (a device permutation; the last
        partial batch is dropped), grouped into calls: (calls, k, batch)."""
        import jax

        order = jax.random.permutation(jax.random.fold_in(self.key, epoch), self.count)
        per_call = self.batch * self.batches_per_call
        calls = self.count // per_call
        return order[: calls * per_call].reshape(calls, self.batches_per_call, self.batch)

    def run_epoch(self, epoch):
        """Trains one epoch; returns (seconds, videos trained, last losses)."""
        import jax

        batches = self.epoch_batches(epoch)
        start = time.perf_counter()
        losses = None
        for call in batches:
            self.state, losses = self.run_calls(self.state, call)
        jax.block_until_ready(self.state)
        return time.perf_counter() - start, int(batches.size), losses


def main(argv=None):
    import keras

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="JSON file to write")
    parser.add_argument("--device", default="gpu", help="JAX device kind: cpu, gpu or tpu")
    parser.add_argument("--variant", default="paper", help="paper or avatt")
    parser.add_argument("--videos", type=int, default=3339, help="training videos (AVE: 3339)")
    parser.add_argument("--visual-dim", type=int, default=512)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--batches-per-call", type=int, default=13, help="train steps per compiled call")
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs (after one compiling epoch)")
    parser.add_argument("--bf16", action="store_true", help="features and compute in bfloat16")
    parser.add_argument("--smoke", action="store_true", help="tiny model (a quick check)")
    args = parser.parse_args(argv)
    if keras.backend.backend() != "jax":
        raise SystemExit("resident_jax.py needs KERAS_BACKEND=jax.")
    device = device_of(args.device)
    from keras_avl.models import build_model
    from keras_avl.precision import precision_policy

    config = model_config(args.variant, args.visual_dim, args.smoke)
    x, y = random_batches(config, args.videos, 1)
    with precision_policy(args.bf16, gpu=False):
        model = build_model(config, "supervised")
    trainer = ResidentTrainer(model, x, y, device, args.batch, args.batches_per_call,
                              "bfloat16" if args.bf16 else "float32")
    compile_seconds, _, _ = trainer.run_epoch(0)
    seconds, videos, losses = [], 0, None
    for epoch in range(1, args.epochs + 1):
        elapsed, videos, losses = trainer.run_epoch(epoch)
        seconds.append(elapsed)
    median = statistics.median(seconds)
    report = environment()
    report.update(
        benchmark="device-resident JAX training", device_kind=args.device, device_name=str(device),
        variant=args.variant, videos=args.videos, visual_dim=args.visual_dim, batch=args.batch,
        batches_per_call=args.batches_per_call, bf16=args.bf16, smoke=args.smoke,
        feature_bytes=trainer.needed_bytes, free_device_bytes=trainer.free_bytes,
        first_epoch_seconds=compile_seconds, epoch_seconds=seconds,
        videos_per_epoch=videos, videos_per_second=videos / median,
        last_loss=float(np.asarray(losses, dtype="float32")[-1]),
    )
    print(f"{args.variant} on {device}{' bf16' if args.bf16 else ''}: {videos / median:.1f} videos/s "
          f"(epoch {median:.3f} s, first {compile_seconds:.1f} s)", flush=True)
    finish_and_write(report, args.out)


if __name__ == "__main__":
    main()
