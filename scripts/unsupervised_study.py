"""Multi-seed study of the unsupervised regime (docs/reproducing_the_paper.md).

For every (variant, seed): trains with `keras_avl.training.train` (the epoch
of lowest val loss is kept, as the library does), evaluates the pointing game
of the kept checkpoint on test, and records, as a diagnostic only (never used
for selection), the val pointing game of every epoch, so that the epoch
selection itself can be judged. One JSON line per run is appended to --out;
a mean ± std table is printed at the end.

    python scripts/unsupervised_study.py --variants paper,fusion-mfb --seeds 0,1,2 \
        --epochs 40 --out /tmp/study.jsonl [--data FOLDER] [--set segment_weight=1]
"""

import argparse
import json
import time
from pathlib import Path

import keras
import numpy as np

from keras_avl.cli.train import parse_overrides
from keras_avl.data import make_dataset
from keras_avl.models import inference_model
from keras_avl.training import evaluate, train
from keras_avl.training.metrics import pointing_game
from keras_avl.training.train import resolve_data


class ValPointingGame(keras.callbacks.Callback):
    """Records the val pointing game of lambda after every epoch (diagnostic)."""

    def __init__(self, data, batch_size):
        super().__init__()
        self.data = data
        self.inputs = make_dataset(data, "val", "unsupervised", batch_size,
                                   shuffle=False).map(lambda x, y: x)
        order = data.orders["val"]
        self.regions = data.regions[order]
        self.event = data.segment_labels[order].argmax(-1) != data.background
        self.values = []

    def on_epoch_end(self, epoch, logs=None):
        outputs = inference_model(self.model).predict(self.inputs, verbose=0)
        self.values.append(pointing_game(outputs["spatial_attention"], self.regions,
                                         self.event)["pointing_game"])


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
    args = parser.parse_args()
    overrides = parse_overrides(args.set)
    data, _ = resolve_data(args.data, args.embedded_size)
    rows = []
    for variant in args.variants.split(","):
        for seed in (int(s) for s in args.seeds.split(",")):
            name = f"{variant}{args.tag}-s{seed}"
            run_dir = Path(args.runs) / name
            diagnostic = ValPointingGame(data, args.batch_size)
            start = time.time()
            run = train(run_dir, "unsupervised", variant, data=data, epochs=args.epochs,
                        batch_size=args.batch_size, seed=seed, verbose=0,
                        callbacks=[diagnostic], **overrides)
            metrics = json.loads((run.path / "metrics.json").read_text())
            result = evaluate(run, "test")
            row = {
                "variant": variant, "tag": args.tag, "seed": seed, "overrides": overrides,
                "data": args.data or f"embedded-{args.embedded_size}",
                "test_pointing_game": result["pointing_game"],
                "chance": result["pointing_game_chance"],
                "best_epoch": metrics["best_epoch"],
                "val_loss": [e["val_loss"] for e in metrics["history"]],
                "loss": [e["loss"] for e in metrics["history"]],
                "val_pointing_game": diagnostic.values,
                "seconds": round(time.time() - start, 1),
            }
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
