"""End-to-end training throughput (videos/s) of the supervised models, next to
the machine's limit: the paper's model (preset `paper`) and the A+V-att
baseline (preset `avatt`) under the options that change speed (MFB
path, bfloat16, XLA, steps per execution, the visual data path), a plain
PyTorch A+V-att loop written the way the released AVE-ECCV18 code trains it
(`--torch-peer`), achieved GFLOP/s and the measured float32 / bfloat16
matrix-product peak of the backend.

Each variant is timed in steady state: a `model.fit(...,
steps_per_epoch=--steps)` call (the model's compiled train step and Keras' own
loop, data and callbacks included) with a callback that reads the clock at the
end of every call of the compiled step; the first interval (iterator start-up,
first fetch) is dropped and the others, divided by the steps per call, are the
variant's step times. One untimed call first compiles the step. The variants
alternate call by call for `--rounds` rounds, so that load from other processes
hits them alike, and the load average is recorded each round; a variant's
figure is the median of its step times. Report ratios, not absolute times.
(Earlier versions timed whole `fit` calls of 4 steps, so Keras' per-call
start-up was in every figure: several times the step itself for `paper`.)

Data: by default every variant reads a few random batches held in memory
(`tf.data.Dataset.from_tensor_slices`, repeated). With `--data FOLDER` (an AVE
layout, e.g. `generate_dataset(size="full", visual_dim=64)`) the variants
named `stream` / `memory` read the training split through `make_dataset`'s
streaming and in-memory paths.

FLOPs: XLA's cost analysis of the jitted forward+backward step under JAX
(counted in a JAX subprocess when the backend is TensorFlow; the MFB path and
the precision are those of the variant), with the LSTMs unrolled so that all
T = 10 steps count (XLA counts a while loop's body once).

The PyTorch peer (`--torch-peer`) runs in a process of its own
(`--torch-python`, a Python with PyTorch), driven fit by fit so that it still
alternates with the Keras variants. (Runs of this script in the Python
environment that has PyTorch ran out of memory maps, LLVM failing to allocate
XLA's code, while the same variants in keras-avl's own environment did not;
the cause was not found, so Keras and PyTorch no longer share a process.)

Usage:

    KERAS_BACKEND=tensorflow python benchmarks/bench_train.py --visual-dim 64 \\
        --torch-peer --torch-python /path/to/python-with-torch \\
        --out benchmarks/results/train_cpu_tensorflow_dv64.json
    KERAS_BACKEND=jax python benchmarks/bench_train.py --visual-dim 512 \\
        --out benchmarks/results/train_cpu_jax.json
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np
from bench_mfb import block, environment, finish_and_write

AVE_TRAIN_VIDEOS = 3339
PEER = "torch A+V-att (released loop)"
# name -> (variant, options). fused: MFBPooling's `fused` (True was the
# default before "auto"); jit: XLA for the train step (False: Keras' choice on
# a CPU-only TensorFlow); unroll: the LSTMs unrolled over the T = 10 segments;
# data: "synthetic" (in-memory random batches) or a make_dataset path
# ("stream", the issue-time path, or "memory") when --data is given.
BASE = dict(fused="auto", mixed=False, jit=False, unroll=False, spe=1, data="synthetic")
# Methods of `keras_avl.models.registry` built from their own configs (their
# default, public-code sizes), with their own losses and keras-avl's common
# optimizer (Adam 1e-3) unless a variant names a `protocol`.
METHOD_MODELS = ("psp", "cmbs", "avsdn")
VARIANTS = {
    "paper, issue-time (fused=True)": ("paper", dict(BASE, fused=True)),
    "paper, fused=auto": ("paper", BASE),
    "paper, fused=False": ("paper", dict(BASE, fused=False)),
    "paper, bf16": ("paper", dict(BASE, mixed=True)),
    "paper, unroll": ("paper", dict(BASE, unroll=True)),
    "paper, jit": ("paper", dict(BASE, jit=True)),
    "paper, jit, unroll": ("paper", dict(BASE, jit=True, unroll=True)),
    "paper, jit, unroll, spe 4": ("paper", dict(BASE, jit=True, unroll=True, spe=4)),
    "paper, bf16, jit, unroll": ("paper", dict(BASE, mixed=True, jit=True, unroll=True)),
    "paper, bf16, jit": ("paper", dict(BASE, mixed=True, jit=True)),
    "paper, bf16, unroll": ("paper", dict(BASE, mixed=True, unroll=True)),
    "avatt": ("avatt", BASE),
    "avatt, bf16": ("avatt", dict(BASE, mixed=True)),
    "avatt, unroll": ("avatt", dict(BASE, unroll=True)),
    "avatt, jit": ("avatt", dict(BASE, jit=True)),
    "avatt, jit, unroll": ("avatt", dict(BASE, jit=True, unroll=True)),
    "avatt, bf16, jit": ("avatt", dict(BASE, mixed=True, jit=True)),
    "avatt, bf16, jit, unroll": ("avatt", dict(BASE, mixed=True, jit=True, unroll=True)),
    "avatt, bf16, spe 4": ("avatt", dict(BASE, mixed=True, spe=4)),
    "avatt, bf16, unroll": ("avatt", dict(BASE, mixed=True, unroll=True)),
    "psp": ("psp", BASE),
    "psp, bf16": ("psp", dict(BASE, mixed=True)),
    "psp, jit": ("psp", dict(BASE, jit=True)),
    "psp, bf16, jit": ("psp", dict(BASE, mixed=True, jit=True)),
    "psp, bf16, unroll": ("psp", dict(BASE, mixed=True, unroll=True)),
    "cmbs": ("cmbs", BASE),
    "cmbs, bf16": ("cmbs", dict(BASE, mixed=True)),
    "cmbs, jit": ("cmbs", dict(BASE, jit=True)),
    "cmbs, bf16, jit": ("cmbs", dict(BASE, mixed=True, jit=True)),
}
# The AVE-size comparison of issue 21 (d_v = 512, batch 64): every method,
# float32 and bf16, with and without XLA (XLA is always on under JAX).
AVE_SIZE = [f"{m}{s}" for m in ("paper, fused=auto", "avatt", "psp", "cmbs")
            for s in ("", ", bf16", ", jit", ", bf16, jit")]
AVE_SIZE = [name.replace("fused=auto, ", "") for name in AVE_SIZE]
DATA_VARIANTS = {
    "paper, issue-time, stream": ("paper", dict(BASE, fused=True, data="stream")),
    "paper, fused=auto, memory": ("paper", dict(BASE, data="memory")),
    "avatt, stream": ("avatt", dict(BASE, data="stream")),
    "avatt, memory": ("avatt", dict(BASE, data="memory")),
}


SMOKE_METHOD_FIELDS = {
    "psp": dict(projection_dim=8, hidden=8, attention_dim=8, psp_dim=8, classifier_hidden=8),
    "cmbs": dict(visual_hidden=8, attention_hidden=8, d_model=8, num_heads=2, feedforward_dim=16,
                 encoder_feedforward_dim=16, interaction_heads=2),
    "avsdn": dict(hidden=8),
    "avatt": dict(hidden=8, avatt_hidden_dim=8),
}
SMOKE_PAPER_FIELDS = dict(embed_dim=8, mfb_output_dim=8, hidden=8, swab_units=8)


def model_config(variant, visual_dim, smoke=False):
    from keras_avl.models import get

    fields = dict(visual_dim=visual_dim)
    if smoke:
        fields.update(num_classes=5, audio_dim=8,
                      **SMOKE_METHOD_FIELDS.get(variant, SMOKE_PAPER_FIELDS))
    return get(variant).config("supervised", **fields)


def nested_layers(layer, seen=None):
    """The layer and every layer in it: a model's `layers`, a layer's public
    attributes that are layers (AVFB's `mfb`, a Bidirectional's
    `forward_layer`), recursively; Keras has no public walk of its own."""
    import keras

    seen = set() if seen is None else seen
    if id(layer) in seen:
        return
    seen.add(id(layer))
    yield layer
    if isinstance(layer, keras.Model):
        children = layer.layers
    else:
        children = [value for name, value in vars(layer).items()
                    if not name.startswith("_") and isinstance(value, keras.layers.Layer)]
    for child in children:
        yield from nested_layers(child, seen)


def build(variant, options, visual_dim, smoke=False, batch=64):
    """The compiled supervised model of a variant, set up as `options` say.

    `options` may also name a training `protocol` (`keras_avl.protocols`: its
    optimizer and schedule for an epoch of AVE's training videos at `batch`,
    its loss and config values) and a `policy` (a protocol's dtype policy,
    e.g. "float64", instead of `mixed`)."""
    import keras

    from keras_avl.layers import MFBPooling
    from keras_avl.models import build_model
    from keras_avl.precision import precision_policy
    from keras_avl.protocols import get_protocol
    from keras_avl.training.train import configure_train_step

    config = model_config(variant, visual_dim, smoke)
    optimizer = loss = None
    if options.get("protocol"):
        recipe = get_protocol(options["protocol"])
        optimizer = recipe.training.optimizer(max(AVE_TRAIN_VIDEOS // batch, 1))
        loss = recipe.training.loss_function()
        config = config.replace(**recipe.config)
    with precision_policy(options["mixed"], gpu=False, policy=options.get("policy")):
        model = build_model(config, "supervised", optimizer=optimizer, loss=loss)
    for layer in nested_layers(model):
        if isinstance(layer, MFBPooling):
            layer.fused = options["fused"]
        if isinstance(layer, keras.layers.RNN):
            layer.unroll = options["unroll"]
    # JAX always compiles the step with XLA (jit_compile=False would run it eagerly).
    jit = options["jit"] if keras.backend.backend() == "tensorflow" else None
    configure_train_step(model, jit, options["spe"])
    return model


def add_method_arguments(parser):
    """--method, --mixed, --batch, --visual-dim: one method's AVE-size train
    step, for the profilers (`profile_step.py`, `profile_ops.py`)."""
    parser.add_argument("--method", default="paper", help="a variant of bench_train.py: paper, avatt, psp, cmbs")
    parser.add_argument("--mixed", action="store_true", help="mixed_bfloat16 (the bf16 setting)")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--visual-dim", type=int, default=512)


def method_from_arguments(args, smoke=False):
    """(model, options, config, in-memory dataset) of `add_method_arguments`' method."""
    options = dict(BASE, mixed=args.mixed)
    model = build(args.method, options, args.visual_dim, smoke, args.batch)
    config = model_config(args.method, args.visual_dim, smoke)
    return model, options, config, synthetic_dataset(config, args.batch, model=model)


def random_batches(config, batch, count, seed=0):
    """`count` random batches (NumPy) of inputs and one-hot labels."""
    rng = np.random.default_rng(seed)
    n = batch * count
    height, width = config.grid
    x = {
        "visual": rng.random((n, config.segments, height, width, config.visual_dim), dtype="float32"),
        "audio": rng.random((n, config.segments, config.audio_dim), dtype="float32"),
    }
    y = np.eye(config.num_classes, dtype="float32")[rng.integers(0, config.num_classes, (n, config.segments))]
    return x, y


def device_batch(config, batch, seed=0):
    """One random batch as backend tensors (`bench_methods.py`)."""
    from keras import ops

    x, y = random_batches(config, batch, 1, seed)
    return {k: ops.convert_to_tensor(v) for k, v in x.items()}, ops.convert_to_tensor(y)


def synthetic_dataset(config, batch, count=2, model=None):
    """`count` random batches held in memory, repeated; mapped to every
    output of a several-output `model` (PSP, CMBS) as `train` maps them."""
    import tensorflow as tf

    from keras_avl.models.registry import fit_targets

    dataset = tf.data.Dataset.from_tensor_slices(random_batches(config, batch, count)).batch(batch)
    targets = fit_targets(model) if model is not None else None
    if targets is not None:
        dataset = dataset.map(targets)
    return dataset.repeat()


def folder_dataset(data, batch, path):
    """The training split's batches (pass 0) over and over: `fit`'s
    `steps_per_epoch` sets how many are read."""
    import keras

    from keras_avl.data import make_dataset

    batches = make_dataset(data, "train", "supervised", batch, data_path=path)

    class Repeated(keras.utils.PyDataset):
        num_batches = None  # endless

        def __init__(self):
            super().__init__()

        def __getitem__(self, index):
            return batches[index % len(batches)]

    return Repeated()


def timed_steps(model, dataset, steps):
    """Seconds per train step of one `fit` call, in steady state (see above):
    the clock is read at the start and at the end of every call of the
    compiled step (one call runs `steps_per_execution` steps)."""
    import keras

    times = []
    clock = keras.callbacks.LambdaCallback(
        on_train_begin=lambda logs: times.append(time.perf_counter()),
        on_train_batch_end=lambda batch, logs: times.append(time.perf_counter()),
    )
    model.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0, shuffle=False, callbacks=[clock])
    intervals = np.diff(times[1:])
    return list(intervals / model.steps_per_execution)


class TorchAVAtt:
    """A plain PyTorch A+V-att training loop in the manner of the released
    AVE-ECCV18 code (supervised_main.py): audio-guided visual attention
    (ReLU projections to 512, tanh, a 49-way softmax), audio and attended
    visual Bi-LSTMs (hidden 128), ReLU, Linear(512, 64), ReLU, Linear(64, 29),
    softmax, MultiLabelSoftMarginLoss on the softmax, Adam(1e-3); batches are
    assembled row by row from arrays held in memory, in file order. float32."""

    def __init__(self, config, batch, count):
        import torch
        from torch import nn

        self.torch = torch
        x, y = random_batches(config, batch, count, seed=1)
        self.visual, self.audio, self.labels = x["visual"], x["audio"], y
        self.batch, self.count = batch, count
        self.buffers = [np.zeros((batch,) + a.shape[1:], np.float32) for a in (self.audio, self.visual, self.labels)]
        regions = config.grid[0] * config.grid[1]
        d_v, d_a, hidden = config.visual_dim, config.audio_dim, 128

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.audio_proj = nn.Linear(d_a, 512)
                self.video_proj = nn.Linear(d_v, 512)
                self.video_score = nn.Linear(512, regions, bias=False)
                self.audio_score = nn.Linear(512, regions, bias=False)
                self.score = nn.Linear(regions, 1, bias=False)
                self.lstm_audio = nn.LSTM(d_a, hidden, batch_first=True, bidirectional=True)
                self.lstm_video = nn.LSTM(d_v, hidden, batch_first=True, bidirectional=True)
                self.hidden1 = nn.Linear(4 * hidden, 64)
                self.out = nn.Linear(64, config.num_classes)

            def forward(self, audio, video):
                b, t = video.shape[:2]
                regions_v = video.reshape(b * t, regions, d_v)
                v = torch.relu(self.video_proj(regions_v))
                a = torch.relu(self.audio_proj(audio.reshape(b * t, d_a)))
                content = self.video_score(v) + self.audio_score(a).unsqueeze(2)
                alpha = torch.softmax(self.score(torch.tanh(content)).squeeze(2), -1)
                attended = torch.bmm(alpha.unsqueeze(1), regions_v).reshape(b, t, d_v)
                audio_seq, _ = self.lstm_audio(audio)
                video_seq, _ = self.lstm_video(attended)
                h = torch.relu(torch.cat([audio_seq, video_seq], -1))
                return torch.softmax(self.out(torch.relu(self.hidden1(h))), -1)

        torch.manual_seed(0)
        self.net = Net()
        self.loss = nn.MultiLabelSoftMarginLoss()
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=1e-3)
        self.position = 0

    def get_batch(self):
        audio, video, labels = self.buffers
        for i in range(self.batch):
            row = (self.position * self.batch + i) % len(self.visual)
            video[i] = self.visual[row]
            audio[i] = self.audio[row]
            labels[i] = self.labels[row]
        self.position += 1
        return tuple(self.torch.from_numpy(b) for b in (audio, video, labels))

    def fit(self, steps):
        """Seconds per step after the first, as `timed_steps`."""
        times = [time.perf_counter()]
        for _ in range(steps):
            audio, video, labels = self.get_batch()
            self.net.zero_grad()
            loss = self.loss(self.net(audio, video.reshape(video.shape[0], video.shape[1], -1, video.shape[-1])), labels)
            loss.item()
            loss.backward()
            self.optimizer.step()
            times.append(time.perf_counter())
        return list(np.diff(times[1:]))


def serve_torch_peer(args):
    """The peer's process: a fit of --steps steps per line read, its step
    times written back as a JSON line; at end of input, PyTorch's matmul peaks."""
    peer = TorchAVAtt(model_config("avatt", args.visual_dim, args.smoke), args.batch, 4)
    for _ in sys.stdin:
        print(json.dumps(peer.fit(args.steps)), flush=True)
    print(json.dumps({f"torch {dtype}": torch_matmul_peak(dtype) for dtype in ("float32", "bfloat16")}),
          flush=True)


class TorchPeerProcess:
    """Runs the PyTorch peer in a process of its own (PyTorch's and XLA's
    native libraries are kept apart), one fit per call, so that it still
    alternates with the Keras variants round by round."""

    def __init__(self, args):
        command = [args.torch_python, __file__, "--torch-worker", "--visual-dim", str(args.visual_dim),
                   "--batch", str(args.batch), "--steps", str(args.steps)] + (["--smoke"] if args.smoke else [])
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def __call__(self):
        self.process.stdin.write("fit\n")
        self.process.stdin.flush()
        return [float(t) for t in json.loads(self.process.stdout.readline())]

    def finish(self):
        """PyTorch's float32 / bfloat16 matmul peaks; ends the process."""
        self.process.stdin.close()
        peaks = json.loads(self.process.stdout.readline())
        self.process.wait()
        return peaks


def matmul_peak(dtype, n=2048, repeats=5):
    """GFLOP/s of an n x n x n matrix product in `dtype` on the active backend
    (the best of `repeats` calls)."""
    import keras
    from keras import ops

    x = ops.convert_to_tensor(np.random.default_rng(0).random((n, n), dtype="float32"), dtype=dtype)
    if keras.backend.backend() == "jax":
        import jax

        product = jax.jit(lambda a: a @ a)
    else:
        import tensorflow as tf

        product = tf.function(lambda a: tf.matmul(a, a))
    block(product(x))
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        block(product(x))
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def torch_matmul_peak(dtype, n=2048, repeats=5):
    import torch

    x = torch.rand(n, n).to(getattr(torch, dtype))
    x @ x
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        x @ x
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def count_flops(names, visual_dim, batch, smoke):
    """name -> FLOPs of one forward+backward step, from XLA's cost analysis
    (JAX backend only)."""
    import jax
    import keras

    flops = {}
    for name in names:
        variant, options = ALL_VARIANTS[name]
        # Unrolled, so that all T steps of the LSTMs count (XLA counts a while
        # loop's body once); the same computation otherwise.
        model = build(variant, dict(options, unroll=True), visual_dim, smoke, batch)
        config = model_config(variant, visual_dim, smoke)
        x, y = random_batches(config, batch, 1)

        def loss(trainable, non_trainable, x, y):
            y_pred, _ = model.stateless_call(trainable, non_trainable, x, training=True)
            if isinstance(y_pred, (list, tuple, dict)):
                # Several outputs (PSP, CMBS): every output's path counts; the
                # loss itself (the mean of each output) is a negligible cost.
                outputs = y_pred.values() if isinstance(y_pred, dict) else y_pred
                return sum(keras.ops.mean(keras.ops.cast(o, "float32")) for o in outputs)
            return keras.ops.mean(keras.losses.categorical_crossentropy(y, y_pred))

        weights = ([v.value for v in model.trainable_variables], [v.value for v in model.non_trainable_variables])
        compiled = jax.jit(jax.grad(loss)).lower(*weights, x, y).compile()
        cost = compiled.cost_analysis()
        cost = cost[0] if isinstance(cost, (list, tuple)) else cost
        flops[name] = float(cost["flops"])
    return flops


ALL_VARIANTS = {**VARIANTS, **DATA_VARIANTS}


def flops_of(names, args):
    import keras

    if keras.backend.backend() == "jax":
        return count_flops(names, args.visual_dim, args.batch, args.smoke)
    command = [args.flops_python, __file__, "--count-flops", "--visual-dim", str(args.visual_dim),
               "--batch", str(args.batch), "--only", *names] + (["--smoke"] if args.smoke else [])
    done = subprocess.run(command, capture_output=True, text=True,
                          env={**os.environ, "KERAS_BACKEND": "jax"})
    if done.returncode:
        print(f"FLOP count failed: {done.stderr[-2000:]}", flush=True)
        return {}
    return json.loads(done.stdout.strip().splitlines()[-1])


def add_flops(args):
    """Fills the FLOP figures of a result file whose run could not count them
    (no JAX in its Python), from its own step times and matmul peaks."""
    from keras_avl.atomic import atomic_write_text

    with open(args.add_flops) as file:
        report = json.load(file)
    args.visual_dim, args.batch, args.smoke = report["visual_dim"], report["batch"], report["smoke"]
    names = [r["name"] for r in report["results"] if r["name"] != PEER]
    flops = flops_of(names, args)
    if not flops:
        raise SystemExit("FLOP count failed")
    peaks = report["matmul_peak_gflops"]
    for result in report["results"]:
        if result["name"] in flops:
            dtype = "bfloat16" if result["options"]["mixed"] else "float32"
            gflops = flops[result["name"]] / result["median_step_seconds"] / 1e9
            result.update(flops_per_step=flops[result["name"]], achieved_gflops=gflops,
                          peak_dtype=dtype, share_of_matmul_peak=gflops / peaks[dtype])
            print(f"{result['name']:34s} {gflops:6.1f} GFLOP/s ({100 * gflops / peaks[dtype]:4.1f} % of "
                  f"{dtype} peak {peaks[dtype]:.0f})")
    report["flops_added_by"] = " ".join(sys.argv)
    atomic_write_text(args.add_flops, json.dumps(report, indent=2) + "\n")


def main(argv=None):
    import keras

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", help="JSON file to write")
    parser.add_argument("--batch", type=int, default=64, help="videos per step")
    parser.add_argument("--visual-dim", type=int, default=512, help="d_v (AVE: 512)")
    parser.add_argument("--steps", type=int, default=16, help="train steps per timed fit call")
    parser.add_argument("--rounds", type=int, default=3, help="timed fit calls per variant")
    parser.add_argument("--only", nargs="*", help="names of variants to run (default all but data)")
    parser.add_argument("--ave-size", action="store_true",
                        help="the AVE-size set: paper, avatt, psp, cmbs x float32/bf16 x XLA off/on")
    parser.add_argument("--data", help="AVE-layout folder for the stream/memory data variants")
    parser.add_argument("--torch-peer", action="store_true", help=f"also time {PEER!r}")
    parser.add_argument("--torch-python", default=sys.executable,
                        help="the Python (with PyTorch) that runs the peer in its own process")
    parser.add_argument("--torch-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--smoke", action="store_true", help="tiny models (a quick check)")
    parser.add_argument("--count-flops", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--flops-python", default=sys.executable,
                        help="the Python (with JAX) that counts the FLOPs when the backend is not JAX")
    parser.add_argument("--add-flops", metavar="JSON",
                        help="count the FLOPs of the variants of an earlier result file (with "
                             "--flops-python) and add the achieved GFLOP/s and the share of that "
                             "run's matmul peak to it; nothing is timed again")
    args = parser.parse_args(argv)
    names = args.only or (AVE_SIZE if args.ave_size else
                          list(VARIANTS) + (list(DATA_VARIANTS) if args.data else []))
    if args.torch_worker:
        serve_torch_peer(args)
        return
    if args.add_flops:
        add_flops(args)
        return
    if args.count_flops:
        print(json.dumps(count_flops([n for n in names if n != PEER], args.visual_dim, args.batch, args.smoke)))
        return
    if keras.backend.backend() == "jax":
        # Keras always compiles the step with XLA on JAX: jit variants are the same.
        names = [n for n in names if n == PEER or not ALL_VARIANTS[n][1]["jit"]]
    if not args.out:
        parser.error("--out is required")
    report = environment()
    data = None
    if args.data:
        from keras_avl.data import load_ave

        data = load_ave(args.data)
    models, datasets, runners = {}, {}, {}
    for name in names:
        if name == PEER:
            continue
        variant, options = ALL_VARIANTS[name]
        models[name] = build(variant, options, args.visual_dim, args.smoke, args.batch)
        config = model_config(variant, args.visual_dim, args.smoke)
        if options["data"] == "synthetic":
            datasets[name] = synthetic_dataset(config, args.batch, model=models[name])
        else:
            datasets[name] = folder_dataset(data, args.batch, options["data"])
        runners[name] = lambda name=name: timed_steps(models[name], datasets[name], args.steps)
    if args.torch_peer:
        runners[PEER] = TorchPeerProcess(args)
    for run in runners.values():
        run()  # compiles
    records, loads = {}, []
    for _ in range(args.rounds):
        loads.append(list(os.getloadavg()))
        for name, run in runners.items():
            records.setdefault(name, {"step_seconds": []})["step_seconds"] += run()
    flops = flops_of([n for n in runners if n != PEER], args)
    peaks = {dtype: matmul_peak(dtype) for dtype in ("float32", "bfloat16")}
    if args.torch_peer:
        peaks.update(runners[PEER].finish())
    reference = statistics.median(records[PEER]["step_seconds"]) if args.torch_peer else None
    results = []
    for name, record in records.items():
        step = statistics.median(record["step_seconds"])
        result = dict(name=name, **record, median_step_seconds=step,
                      videos_per_second=args.batch / step,
                      ave_epoch_seconds=AVE_TRAIN_VIDEOS * step / args.batch)
        if name != PEER:
            variant, options = ALL_VARIANTS[name]
            result.update(variant=variant, options=options, parameters=models[name].count_params())
        if name in flops:
            result.update(flops_per_step=flops[name], achieved_gflops=flops[name] / step / 1e9)
            if name != PEER:
                # Share of the backend's matmul peak of the variant's precision,
                # measured in this run (bf16 variants against the bf16 peak).
                dtype = "bfloat16" if ALL_VARIANTS[name][1]["mixed"] else "float32"
                result.update(peak_dtype=dtype, share_of_matmul_peak=result["achieved_gflops"] / peaks[dtype])
        if reference is not None:
            result["speed_vs_torch_peer"] = reference / step
        results.append(result)
        print(f"{name:34s} {result['videos_per_second']:8.1f} videos/s"
              + (f"  {result['achieved_gflops']:6.1f} GFLOP/s" if "achieved_gflops" in result else "")
              + (f" ({100 * result['share_of_matmul_peak']:4.1f} % of {result['peak_dtype']} peak)"
                 if "share_of_matmul_peak" in result else "")
              + (f"  {result['speed_vs_torch_peer']:5.2f}x torch" if reference else ""), flush=True)
    print("matrix-product peak GFLOP/s: " + ", ".join(f"{k} {v:.0f}" for k, v in peaks.items()))
    report.update(
        benchmark="supervised training throughput against the limit",
        batch=args.batch, visual_dim=args.visual_dim, steps_per_fit=args.steps, timing="steady-state seconds per step (the first call of each fit dropped)", rounds=args.rounds,
        data=args.data, smoke=args.smoke, load_average_per_round=loads,
        matmul_peak_gflops=peaks, ave_train_videos=AVE_TRAIN_VIDEOS,
        flops_note="XLA cost analysis of forward+backward under JAX, LSTMs unrolled (all T steps count); "
                   "models of several outputs (PSP, CMBS): the gradient of the sum of their outputs' means",
        results=results,
    )
    finish_and_write(report, args.out)


if __name__ == "__main__":
    main()
