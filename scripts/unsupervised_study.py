"""Multi-seed study of the unsupervised regime (docs/reproducing_the_paper.md).

For every (variant, seed): trains with `keras_avl.training.train`
(deterministic ops, as `keras-avl compare`) with the epoch selection
`--selection` (default: the lowest val loss, as the library does), evaluates
the kept checkpoint on test (pointing game, cIoU, AUC), and records, as
diagnostics only (never used for selection), the val pointing game and the
mean concentration of lambda (1 - its entropy / log S over the real val
segments) of every epoch, so that the epoch selection itself can be judged.
With `--selection audio-consistency` the epoch of lowest val loss of the same
run is also kept (`best_val_loss.keras`) and evaluated, so both selections are
compared on one training trajectory. One JSON line per run is appended to
--out; a mean ± std table is printed at the end.

    python scripts/unsupervised_study.py --variants paper,fusion-mfb --seeds 0,1,2 \
        --epochs 40 --out /tmp/study.jsonl [--data FOLDER] [--set segment_weight=1] \
        [--selection audio-consistency]
"""

import argparse
import dataclasses
import json
import shutil
import time
from pathlib import Path

import keras
import numpy as np

from keras_avl.cli.train import parse_overrides
from keras_avl.models import inference_model
from keras_avl.training import evaluate, train
from keras_avl.training.audio_consistency import val_batches
from keras_avl.training.callbacks import BestCheckpoint
from keras_avl.training.metrics import pointing_game
from keras_avl.training.train import resolve_data

VAL_LOSS_CHECKPOINT = "best_val_loss.keras"


def concentration(attention, valid):
    """Mean over the valid segments of 1 - H(lambda) / log S (0: uniform)."""
    flat = attention.reshape(attention.shape[:2] + (-1,)).astype(np.float64)
    entropy = -(flat * np.log(np.maximum(flat, 1e-12))).sum(-1)
    return float((1 - entropy / np.log(flat.shape[-1]))[valid].mean())


class ValPointingGame(keras.callbacks.Callback):
    """Records the val pointing game and the concentration of lambda after
    every epoch (diagnostics), and keeps every epoch's val lambda with the
    video's own audio and with another video's (the pairs of
    `selection="audio-consistency"`), written by `save` for offline analysis."""

    def __init__(self, data, batch_size, seed):
        super().__init__()
        self.batches = val_batches(data, batch_size, seed)
        order = data.orders["val"]
        self.regions = data.regions[order]
        self.valid = data.segment_mask[order] != 0
        self.event = (data.segment_labels[order].argmax(-1) != data.background) & self.valid
        self.values, self.concentrations = [], []
        self.own, self.swapped = [], []

    def on_epoch_end(self, epoch, logs=None):
        model = inference_model(self.model)
        own, swapped = (np.concatenate([
            model.predict_on_batch({**inputs, "audio": inputs[key]})["spatial_attention"]
            for inputs in self.batches]) for key in ("audio", "audio_negative"))
        self.own.append(own.astype(np.float32))
        self.swapped.append(swapped.astype(np.float32))
        self.values.append(pointing_game(own, self.regions, self.event)["pointing_game"])
        self.concentrations.append(concentration(own, self.valid))

    def save(self, path):
        """val lambda per epoch (E, N, T, H, W), own and other audio, with the
        masks, regions and event segments needed to score it."""
        np.savez_compressed(
            path, own=np.stack(self.own), swapped=np.stack(self.swapped),
            segment_mask=np.concatenate([b["segment_mask"] for b in self.batches]),
            segment_mask_negative=np.concatenate(
                [b["segment_mask_negative"] for b in self.batches]),
            regions=self.regions, event=self.event)


def test_metrics(run):
    result = evaluate(run, "test")
    return {key: result[key] for key in ("pointing_game", "ciou", "ciou_auc",
                                         "pointing_game_chance")}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", required=True)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--data", default=None)
    parser.add_argument("--embedded-size", default="small")
    parser.add_argument("--runs", default="/tmp/kavl-unsup/study")
    parser.add_argument("--tag", default="")
    parser.add_argument("--out", required=True)
    parser.add_argument("--set", action="append", default=[])
    parser.add_argument("--selection", default="val-loss")
    args = parser.parse_args()
    overrides = parse_overrides(args.set)
    data, _ = resolve_data(args.data, args.embedded_size)
    rows = []
    for variant in args.variants.split(","):
        for seed in (int(s) for s in args.seeds.split(",")):
            name = f"{variant}{args.tag}-s{seed}"
            run_dir = Path(args.runs) / name
            diagnostic = ValPointingGame(data, args.batch_size, seed)
            callbacks = [diagnostic]
            if args.selection != "val-loss":
                callbacks.append(BestCheckpoint(run_dir / VAL_LOSS_CHECKPOINT, "val_loss", "min"))
            start = time.time()
            run = train(run_dir, "unsupervised", variant, data=data, epochs=args.epochs,
                        batch_size=args.batch_size, seed=seed, verbose=0,
                        callbacks=callbacks, deterministic=True,
                        selection=args.selection, **overrides)
            seconds = round(time.time() - start, 1)
            diagnostic.save(run_dir / "val_attention.npz")
            metrics = json.loads((run.path / "metrics.json").read_text())
            history = metrics["history"]
            result = test_metrics(run)
            row = {
                "variant": variant, "tag": args.tag, "seed": seed, "overrides": overrides,
                "data": args.data or f"embedded-{args.embedded_size}",
                "selection": args.selection,
                "test_pointing_game": result["pointing_game"],
                "test": result,
                "chance": result["pointing_game_chance"],
                "best_epoch": metrics["best_epoch"],
                "val_loss": [e["val_loss"] for e in history],
                "loss": [e["loss"] for e in history],
                "val_audio_consistency": [e.get("val_audio_consistency") for e in history],
                "val_pointing_game": diagnostic.values,
                "val_concentration": diagnostic.concentrations,
                "seconds": seconds,
            }
            if args.selection != "val-loss":
                # The same run's epoch of lowest val loss, evaluated from a
                # sibling folder (evaluate reads best.keras).
                sibling = run_dir.with_name(run_dir.name + "-val-loss")
                sibling.mkdir(exist_ok=True)
                shutil.copy(run_dir / "config.json", sibling / "config.json")
                shutil.copy(run_dir / VAL_LOSS_CHECKPOINT, sibling / "best.keras")
                row["val_loss_epoch"] = min(history, key=lambda e: e["val_loss"])["epoch"]
                row["test_val_loss_selection"] = test_metrics(
                    dataclasses.replace(run, path=sibling))
            rows.append(row)
            with open(args.out, "a", encoding="utf-8") as f:
                f.write(json.dumps(row) + "\n")
            print(f"{name}: test PG {row['test_pointing_game']:.3f} (chance "
                  f"{row['chance']:.3f}), best epoch {row['best_epoch']}, "
                  f"{row['seconds']} s", flush=True)
    for variant in args.variants.split(","):
        values = [r["test_pointing_game"] for r in rows if r["variant"] == variant]
        print(f"{variant}{args.tag}: {np.mean(values):.3f} ± {np.std(values):.3f} "
              f"over {len(values)} seeds")


if __name__ == "__main__":
    main()
