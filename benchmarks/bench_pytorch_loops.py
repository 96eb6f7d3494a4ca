"""keras-avl's training steps side by side with the released PyTorch training
loops of the same methods, at AVE size on this machine, alternating in one run.

The released codes are not part of keras-avl and are never copied into it:
pass the paths of checkouts of them, and their model modules are imported from
there by a worker process (`--torch-python`, a Python with PyTorch and
NumPy; h5py and scikit-learn are not needed), one worker per checkout:

- `--ave-eccv18 PATH` (github:YapengTian/AVE-ECCV18): `models.att_Net(128,
  128, 512, 29)`, A+V-att, as `supervised_main.py` trains it: batch 64, batches
  assembled row by row by its own `dataloader.AVEDataset.get_batch` from
  arrays in memory, `MultiLabelSoftMarginLoss` on the softmax outputs, Adam
  1e-3, `StepLR(15000, 0.1)` stepped every batch; against keras-avl's
  `avatt` under the `ave-eccv18-supervised` protocol (the same recipe), and
  `avatt-adam` and `paper` (Adam, cross-entropy) beside it (the paper's model
  has no released code: its ratio is to the A+V-att loop it extends).
- `--psp PATH` (github:jasongief/PSP_CVPR_2021): `fully_model.psp_net(128, 512,
  128, 29)` as `fully_supervised_main.py` trains it: batch 128, batches from its
  own `dataloader.AVE_Fully_Dataset.get_batch` (the shuffle at each epoch's
  first batch included), cross-entropy + 100 x `measure.AVPSLoss`, tau 0.099,
  Adam 1e-3 through `Optim.ScheduledOptim`; against keras-avl's `psp` under
  `psp-cvpr21-supervised` (batch 128).
- `--cmbs PATH` (github:marmot-xy/CMBS): `model.main_model.supv_main_model`
  with `configs/main.json`, wrapped in `nn.DataParallel` as `supv_main.py`
  does, trained as `supv_main.py` / `supv_train.sh` train it: batch 64, the
  model and features in float64 (`model.double()`), BCE-with-logits on the
  event and gate scores + cross-entropy on the event class and the CAS
  score, gradient norm clipped at 0.5, Adam 7e-4; against keras-avl's `cmbs`
  under `cmbs-cvpr22-supervised` (float64 as well, and float32 / bf16: the
  precision is keras-avl's setting, not the recipe's). The released loop
  reads its batches with a `DataLoader` of 8 workers from HDF5; here a
  `DataLoader` over the same features held in memory in the process
  (`num_workers=0`: a 2-core machine), and the training accuracy and the
  TensorBoard writes of the released loop are left out. With
  `--cmbs-float32` its float32 twin (`model.float()`, not the released
  setting) is timed beside it.

Patches, at run time only and only where PyTorch sees no CUDA device:
`Tensor.cuda` and `Module.cuda` return their object unchanged (the codes
call `.cuda()` unconditionally); with a GPU the codes run as released, the
inputs moved with `.cuda()` as their loops move them. Nothing else of the released code is changed; no data
loader of theirs reads a file (their dataset objects get the generated
arrays as attributes).

Data: generated features of AVE's shape (visual (B, 10, 7, 7, 512), audio
(B, 10, 128), 29 classes, one-hot segment labels), two batches' worth per
model held in memory; float32 (CMBS's loop: float64, as its features).

Timing: each side runs --steps train steps per call; the first step of each
call is dropped and the others are its step times (steady state; for
keras-avl one untimed call first compiles the step). keras-avl: `model.fit` with a clock at the
end of every step (`bench_train.timed_steps`); PyTorch: the released loop's
step (batch, forward, loss, `loss.cpu().data.numpy()` / `.item()`,
backward, optimizer and schedule step). The rows alternate call by call for
--rounds rounds, the load average recorded each round; a row's figure is the
median of its step times. Seconds per epoch = 3,339 / batch x the median
step: extrapolated from the timed steps (the released loops run
floor(3,339 / batch) steps an epoch; the validation / test passes that they
run every few epochs are not counted on either side).

Usage:

    KERAS_BACKEND=tensorflow python benchmarks/bench_pytorch_loops.py \\
        --ave-eccv18 /path/AVE-ECCV18 --psp /path/PSP_CVPR_2021 --cmbs /path/CMBS \\
        --torch-python /path/to/python-with-torch \\
        --out benchmarks/results/pytorch_loops_cpu_tensorflow.json
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

AVE_TRAIN_VIDEOS = 3339
CLASSES = 29
SEGMENTS = 10
GRID = (7, 7)
VISUAL_DIM = 512
AUDIO_DIM = 128

# Released loop -> (checkout option, batch, keras-avl rows). A keras-avl row:
# (model, bench_train options); "protocol" is the released recipe in
# `keras_avl.protocols`, "policy" a protocol's dtype policy.
TORCH_LOOPS = {
    "AVE-ECCV18 A+V-att": ("ave_eccv18", 64),
    "PSP": ("psp", 128),
    "CMBS (float64, as released)": ("cmbs", 64),
    "CMBS (float32)": ("cmbs32", 64),
}
SETTINGS = {
    "float32": dict(mixed=False, jit=False),
    "float32, XLA": dict(mixed=False, jit=True),
    "bf16": dict(mixed=True, jit=False),
    "bf16, XLA": dict(mixed=True, jit=True),
}
# keras-avl method -> (released loop it is measured against, protocol, batch)
KERAS_METHODS = {
    "avatt": ("AVE-ECCV18 A+V-att", "ave-eccv18-supervised", 64),
    "avatt-adam": ("AVE-ECCV18 A+V-att", None, 64),
    "paper": ("AVE-ECCV18 A+V-att", None, 64),
    "psp": ("PSP", "psp-cvpr21-supervised", 128),
    "cmbs": ("CMBS (float64, as released)", "cmbs-cvpr22-supervised", 64),
}


def generated(batch, count, seed, dtype="float32"):
    """Features and one-hot segment labels of AVE's shape for `batch x count`
    videos (NumPy): each video one event class, its first segments
    background (class 28) at random."""
    rng = np.random.default_rng(seed)
    n = batch * count
    visual = rng.random((n, SEGMENTS) + GRID + (VISUAL_DIM,), dtype="float32").astype(dtype)
    audio = rng.random((n, SEGMENTS, AUDIO_DIM), dtype="float32").astype(dtype)
    events = rng.integers(0, CLASSES - 1, n)
    background = rng.integers(0, SEGMENTS // 2, n)
    classes = np.where(np.arange(SEGMENTS)[None] < background[:, None], CLASSES - 1, events[:, None])
    labels = np.eye(CLASSES, dtype=dtype)[classes]
    return visual, audio, labels


# ---------------------------------------------------------------- PyTorch side


def patch_for_cpu():
    """Without a CUDA device, `.cuda()` of tensors and modules returns the
    object unchanged (with one, the released code runs as it is)."""
    import torch

    if torch.cuda.is_available():
        return
    torch.Tensor.cuda = lambda self, *args, **kwargs: self
    torch.nn.Module.cuda = lambda self, *args, **kwargs: self


def import_from(path, *modules):
    """The modules named, imported from the checkout at `path`."""
    import importlib

    sys.path.insert(0, os.path.abspath(path))
    return [importlib.import_module(name) for name in modules]


def bare(cls, **attributes):
    """An instance of the released dataset class `cls` without running its
    `__init__` (which reads HDF5 files), given the attributes it reads."""
    instance = cls.__new__(cls)
    vars(instance).update(attributes)
    return instance


class AVEECCV18Loop:
    batch = 64

    def __init__(self, path):
        import torch
        from torch import nn

        models, dataloader = import_from(path, "models", "dataloader")
        torch.manual_seed(0)
        self.net = models.att_Net(128, 128, 512, 29).cuda()
        self.loss = nn.MultiLabelSoftMarginLoss()
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=1e-3)
        self.scheduler = torch.optim.lr_scheduler.StepLR(self.optimizer, step_size=15000, gamma=0.1)
        visual, audio, labels = generated(self.batch, 2, seed=1)
        self.data = bare(
            dataloader.AVEDataset, batch_size=self.batch, lis=np.arange(len(visual)),
            video_features=visual, audio_features=audio, labels=labels,
            video_batch=np.zeros((self.batch,) + visual.shape[1:], np.float32),
            audio_batch=np.zeros((self.batch,) + audio.shape[1:], np.float32),
            label_batch=np.zeros((self.batch,) + labels.shape[1:], np.float32))
        self.batches = len(visual) // self.batch
        self.index = 0

    def step(self):
        audio, video, labels = (t.cuda() for t in self.data.get_batch(self.index % self.batches))
        self.index += 1
        self.net.zero_grad()
        scores = self.net(audio, video)
        loss = self.loss(scores, labels)
        loss.cpu().data.numpy()
        loss.backward()
        self.scheduler.step()
        self.optimizer.step()


class PSPLoop:
    batch = 128

    def __init__(self, path):
        import torch

        fully_model, dataloader, optim_module = import_from(path, "fully_model", "dataloader", "Optim")
        try:
            import sklearn.metrics  # noqa: F401  (measure.py imports it for its accuracy)
        except ImportError:
            import importlib.machinery
            import types

            stubs = {name: types.ModuleType(name) for name in ("sklearn", "sklearn.metrics")}
            for name, stub in stubs.items():
                stub.__spec__ = importlib.machinery.ModuleSpec(name, None)
            stubs["sklearn.metrics"].accuracy_score = None  # the training step never calls it
            sys.modules.update(stubs)
        (measure,) = import_from(path, "measure")
        self.avps_loss = measure.AVPSLoss
        self.torch = torch
        torch.manual_seed(0)
        self.net = fully_model.psp_net(128, 512, 128, 29).cuda()
        self.net.train()
        self.optimizer = optim_module.ScheduledOptim(torch.optim.Adam(self.net.parameters(), lr=1e-3))
        visual, audio, labels = generated(self.batch, 2, seed=2)
        order = list(range(len(visual)))
        self.data = bare(
            dataloader.AVE_Fully_Dataset, batch_size=self.batch, status="train",
            video_features=visual, audio_features=audio, labels=labels, lis=order,
            list_copy=list(order),
            video_batch=np.zeros((self.batch,) + visual.shape[1:], np.float32),
            audio_batch=np.zeros((self.batch,) + audio.shape[1:], np.float32),
            label_batch=np.zeros((self.batch,) + labels.shape[1:], np.float32),
            segment_label_batch=np.zeros((self.batch, SEGMENTS), np.float32),
            segment_avps_gt_batch=np.zeros((self.batch, SEGMENTS), np.float32))
        self.batches = len(visual) // self.batch
        self.index = 0

    def step(self):
        from torch import nn

        i = self.index % self.batches
        self.index += 1
        audio, video, labels, segment_labels, avps_targets = (t.cuda() for t in self.data.get_batch(i, i == 0))
        self.net.zero_grad()
        fusion, out_prob, cross_att = self.net(audio, video, 0.099)
        loss_cls = nn.CrossEntropyLoss()(out_prob.permute(0, 2, 1), segment_labels)
        loss_avps = self.avps_loss(cross_att, avps_targets)
        loss = loss_cls + 100 * loss_avps
        for value in (loss, loss_cls, loss_avps):
            value.cpu().data.numpy()
        loss.backward()
        self.optimizer.step_lr()


class CMBSLoop:
    batch = 64

    def __init__(self, path, dtype="float64"):
        import torch
        from torch import nn

        (main_model,) = import_from(path, "model.main_model")
        with open(os.path.join(path, "configs", "main.json")) as file:
            config = json.load(file)
        torch.manual_seed(0)
        self.torch = torch
        self.model = nn.DataParallel(main_model.supv_main_model(config["model"])).cuda()
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=7e-4)
        self.criterion = nn.BCEWithLogitsLoss()
        self.criterion_event = nn.CrossEntropyLoss()
        self.model.train()
        self.model.double() if dtype == "float64" else self.model.float()
        self.dtype = getattr(torch, dtype)
        visual, audio, labels = generated(self.batch, 2, seed=3, dtype=dtype)
        dataset = torch.utils.data.TensorDataset(*(torch.from_numpy(a) for a in (visual, audio, labels)))
        self.loader = torch.utils.data.DataLoader(dataset, batch_size=self.batch, shuffle=True, num_workers=0)
        self.batches = iter(())

    def next_batch(self):
        try:
            return next(self.batches)
        except StopIteration:
            self.batches = iter(self.loader)
            return next(self.batches)

    def step(self):
        visual, audio, labels = self.next_batch()
        labels = labels.to(self.dtype).cuda()
        is_event, event, gate, av_score = self.model(visual, audio)
        is_event = is_event.transpose(1, 0).squeeze().contiguous()
        gate = gate.transpose(1, 0).squeeze().contiguous()
        foreground, classes = labels[:, :, :-1].max(-1)
        video_class, _ = classes.max(-1)
        loss = (self.criterion(is_event, foreground) + self.criterion(gate, foreground)
                + self.criterion_event(event, video_class) + self.criterion_event(av_score, video_class))
        loss.backward()
        self.torch.nn.utils.clip_grad_norm_(self.model.parameters(), 0.5)
        self.optimizer.step()
        self.optimizer.zero_grad()
        loss.item()


LOOP_CLASSES = {
    "ave_eccv18": lambda path: AVEECCV18Loop(path),
    "psp": lambda path: PSPLoop(path),
    "cmbs": lambda path: CMBSLoop(path, "float64"),
    "cmbs32": lambda path: CMBSLoop(path, "float32"),
}


def synchronize():
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def torch_matmul_peaks(n=2048, repeats=5):
    import torch

    peaks = {}
    for dtype in ("float32", "bfloat16", "float64"):
        x = torch.rand(n, n).to(getattr(torch, dtype)).cuda()
        x @ x
        synchronize()
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            x @ x
            synchronize()
            best = min(best, time.perf_counter() - start)
        peaks[f"torch {dtype}"] = 2 * n**3 / best / 1e9
    return peaks


def serve(kind, path, steps):
    """The worker: a call of `steps` steps per line read, its step times (the
    first dropped) written back as a JSON line; at end of input, PyTorch's
    matmul peaks."""
    import torch

    patch_for_cpu()
    loop = LOOP_CLASSES[kind](path)
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "torch_device": device}),
          flush=True)
    for _ in sys.stdin:
        times = [time.perf_counter()]
        for _ in range(steps):
            loop.step()
            synchronize()
            times.append(time.perf_counter())
        print(json.dumps(list(np.diff(times[1:]))), flush=True)
    print(json.dumps(torch_matmul_peaks()), flush=True)


class Worker:
    """A released loop in a process of its own (PyTorch's and XLA's native
    libraries are kept apart), one call of steps per `__call__`."""

    def __init__(self, python, kind, path, steps):
        command = [python, os.path.abspath(__file__), "--worker", kind, path, "--steps", str(steps)]
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the {kind} worker ({' '.join(command)}) ended before starting")
        self.info = json.loads(line)

    def __call__(self):
        self.process.stdin.write("steps\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("a PyTorch worker ended mid-run (see its stderr above)")
        return [float(t) for t in json.loads(line)]

    def finish(self):
        self.process.stdin.close()
        peaks = json.loads(self.process.stdout.readline())
        self.process.wait()
        return peaks


# ---------------------------------------------------------------- keras-avl side


def keras_runner(model_name, protocol, batch, setting, steps, smoke=False):
    """(model, a call that returns `steps` steady-state step times) of
    keras-avl's `model_name` trained with `protocol` in `setting`."""
    import keras

    from bench_train import BASE, build, model_config, synthetic_dataset, timed_steps

    precision = dict(mixed=False, jit=False, policy="float64") if setting == "float64" \
        else SETTINGS[setting]
    options = dict(BASE, **precision, protocol=protocol)
    if keras.backend.backend() != "tensorflow":
        options["jit"] = False
    variant = "paper" if model_name == "paper" else model_name
    model = build(variant, options, 8 if smoke else VISUAL_DIM, smoke, batch)
    config = model_config(variant, 8 if smoke else VISUAL_DIM, smoke)
    dataset = synthetic_dataset(config, batch, model=model)
    return model, options, lambda: timed_steps(model, dataset, steps)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ave-eccv18", help="checkout of github:YapengTian/AVE-ECCV18")
    parser.add_argument("--psp", help="checkout of github:jasongief/PSP_CVPR_2021")
    parser.add_argument("--cmbs", help="checkout of github:marmot-xy/CMBS")
    parser.add_argument("--torch-python", default=sys.executable, help="a Python with PyTorch")
    parser.add_argument("--settings", nargs="*", default=list(SETTINGS),
                        help=f"keras-avl settings to time, of {list(SETTINGS)} (XLA ones only "
                             "under TensorFlow: JAX always compiles)")
    parser.add_argument("--methods", nargs="*", default=list(KERAS_METHODS),
                        help=f"keras-avl methods to time, of {list(KERAS_METHODS)}")
    parser.add_argument("--cmbs-float32", action="store_true",
                        help="also time the released CMBS model in float32 (not its released setting)")
    parser.add_argument("--cmbs-float64", action="store_true",
                        help="also time keras-avl's cmbs in float64, the released recipe's precision")
    parser.add_argument("--steps", type=int, default=4, help="steps per timed call (the first dropped)")
    parser.add_argument("--rounds", type=int, default=3, help="timed calls per row")
    parser.add_argument("--smoke", action="store_true",
                        help="tiny keras-avl models and no checkouts needed (a check that it runs)")
    parser.add_argument("--out", help="JSON file to write")
    parser.add_argument("--worker", nargs=2, metavar=("KIND", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        serve(*args.worker, args.steps)
        return
    if not args.out:
        parser.error("--out is required")
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import keras

    from bench_mfb import environment, finish_and_write
    from bench_train import matmul_peak

    report = environment()
    checkouts = {"ave_eccv18": args.ave_eccv18, "psp": args.psp, "cmbs": args.cmbs, "cmbs32": args.cmbs}
    runners, rows, failed = {}, {}, {}
    workers = {}
    for name, (kind, batch) in TORCH_LOOPS.items():
        if kind == "cmbs32" and not args.cmbs_float32:
            continue
        if checkouts[kind]:
            workers[name] = Worker(args.torch_python, kind, checkouts[kind], args.steps)
            runners[name] = workers[name]
            rows[name] = dict(side="pytorch", loop=name, batch=batch, checkout=checkouts[kind],
                              checkout_commit=git_commit(checkouts[kind]), **workers[name].info)
    settings = [s for s in args.settings
                if keras.backend.backend() == "tensorflow" or not SETTINGS[s]["jit"]]
    for method in args.methods:
        loop, protocol, batch = KERAS_METHODS[method]
        chosen = settings + (["float64"] if method == "cmbs" and args.cmbs_float64 else [])
        for setting in chosen:
            name = f"keras-avl {method}, {setting}"
            try:
                model, options, run = keras_runner(method, protocol, batch, setting, args.steps, args.smoke)
            except Exception as error:  # recorded, and the other rows go on
                failed[name] = f"{type(error).__name__}: {error}"
                print(f"{name}: failed to build: {failed[name]}", flush=True)
                continue
            runners[name] = run
            rows[name] = dict(side="keras-avl", method=method, setting=setting, protocol=protocol,
                              batch=batch, versus=loop, options=options,
                              parameters=model.count_params())
    for name, run in list(runners.items()):
        if name in workers:
            continue  # nothing to compile: the first step of every call is dropped
        start = time.perf_counter()
        try:
            run()  # compiles / warms up
        except Exception as error:
            if name in workers:
                raise
            failed[name] = f"{type(error).__name__}: {error}"
            print(f"{name}: failed: {failed[name]}", flush=True)
            del runners[name], rows[name]
            continue
        print(f"{name}: first call {time.perf_counter() - start:.1f} s", flush=True)
    loads = []
    for _ in range(args.rounds):
        loads.append(list(os.getloadavg()))
        for name, run in runners.items():
            rows[name].setdefault("step_seconds", []).extend(run())
    peaks = {dtype: matmul_peak(dtype) for dtype in ("float32", "bfloat16")}
    for worker in workers.values():
        peaks.update(worker.finish())
    results = []
    for name, row in rows.items():
        step = statistics.median(row["step_seconds"])
        row.update(name=name, median_step_seconds=step, videos_per_second=row["batch"] / step,
                   ave_epoch_seconds=AVE_TRAIN_VIDEOS * step / row["batch"])
        results.append(row)
    for row in results:
        if row["side"] == "keras-avl" and row["versus"] in rows:
            row["speed_vs_released_loop"] = rows[row["versus"]]["ave_epoch_seconds"] / row["ave_epoch_seconds"]
            if row["method"] == "cmbs" and "CMBS (float32)" in rows:
                row["speed_vs_released_loop_float32"] = (rows["CMBS (float32)"]["ave_epoch_seconds"]
                                                         / row["ave_epoch_seconds"])
        print(f"{row['name']:40s} {row['ave_epoch_seconds']:8.1f} s / AVE epoch  "
              f"({row['videos_per_second']:6.1f} videos/s)"
              + (f"  {row['speed_vs_released_loop']:5.2f}x {row['versus']}"
                 if "speed_vs_released_loop" in row else ""), flush=True)
    best = {}
    for row in results:
        if row["side"] == "keras-avl" and "speed_vs_released_loop" in row:
            if row["method"] not in best or row["ave_epoch_seconds"] < best[row["method"]]["ave_epoch_seconds"]:
                best[row["method"]] = row
    summary = {method: dict(setting=row["setting"], ave_epoch_seconds=row["ave_epoch_seconds"],
                            versus=row["versus"],
                            released_ave_epoch_seconds=rows[row["versus"]]["ave_epoch_seconds"],
                            speed_vs_released_loop=row["speed_vs_released_loop"])
               for method, row in best.items()}
    for method, entry in summary.items():
        print(f"best keras-avl {method}: {entry['setting']}, {entry['speed_vs_released_loop']:.2f}x "
              f"{entry['versus']}", flush=True)
    print("matrix-product peak GFLOP/s: " + ", ".join(f"{k} {v:.0f}" for k, v in peaks.items()))
    report.update(
        benchmark="keras-avl vs the released PyTorch training loops, AVE size",
        visual_dim=VISUAL_DIM, steps_per_call=args.steps, rounds=args.rounds, smoke=args.smoke,
        timing="steady-state seconds per step (the first step of each call dropped; one untimed call first)",
        epoch_note="seconds per epoch of 3,339 videos, extrapolated from the median step",
        load_average_per_round=loads, matmul_peak_gflops=peaks, ave_train_videos=AVE_TRAIN_VIDEOS,
        best_per_method=summary, failed_rows=failed, results=results,
    )
    finish_and_write(report, args.out)


def git_commit(path):
    """The checkout's commit: git's, else the text of a RELEASED_COMMIT file
    (a copy made with `git show` from a bare mirror has no .git)."""
    done = subprocess.run(["git", "-C", path, "rev-parse", "HEAD"], capture_output=True, text=True)
    if done.returncode == 0 and not os.path.samefile(done.stdout.strip() and path, path):
        pass
    marker = os.path.join(path, "RELEASED_COMMIT")
    if os.path.exists(marker):
        with open(marker) as file:
            return file.read().strip()
    return done.stdout.strip() if done.returncode == 0 else None


if __name__ == "__main__":
    main()
