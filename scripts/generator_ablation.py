"""The controlled experiments of docs/reproducing_the_paper.md, "The embedded
default": which property of generator v1 makes supervised attention look away
from the sounding object.

Each `--cause` changes ONE thing in generator v1's source (read from git; see
CAUSES), generates the small dataset (seed 0) into `--out`, trains one
supervised model for 15 epochs and prints one JSON line: the test pointing game
(`keras_avl.training.evaluate`) and the mean lambda inside / outside the
ground-truth region on the test event segments.

    git show ce88bd3:keras_avl/data/generator.py > /tmp/generator_v1.py
    python scripts/generator_ablation.py --v1 /tmp/generator_v1.py --cause none --seed 0
"""

import argparse
import importlib.util
import json
import os
import shutil
from pathlib import Path

import numpy as np

NOISE_LINE = "np.abs(rng.standard_normal((n, segments, height, width, d_v), np.float32))"
# cause -> (text of generator v1, its replacement), or a `noise` value.
CAUSES = {
    "none": None,
    # The |N(0,1)| noise, positive in every channel of every cell ...
    "sparse_noise": (NOISE_LINE, NOISE_LINE.replace("np.abs(", "np.maximum(").replace(
        "np.float32))", "np.float32) - 0.5, 0)")),  # ... post-ReLU: 69% exact zeros
    "no_visual_noise": (NOISE_LINE, "0 * " + NOISE_LINE),  # same random draws
    # The object's prototype positive on 30% of the channels -> on all of them.
    "dense_prototype": (
        "    prototypes = (visual_prototypes, audio_prototypes)\n",
        "    visual_prototypes = np.where(visual_prototypes > 0, visual_prototypes, "
        "np.random.default_rng(123).uniform(0.5, 1.5, visual_prototypes.shape)"
        ".astype(np.float32))\n    prototypes = (visual_prototypes, audio_prototypes)\n"),
    # The silent visible distractor object of another class -> never visible.
    "no_distractor": ('"silent_visible": rng.random(segments) < 0.5,',
                      '"silent_visible": (rng.random(segments) < 0.5) & False,'),
    # The noise scale (of v1's visual AND audio noise) 0.5 -> 0.1.
    "noise_0.1": 0.1,
}


def load_generator(v1_path, cause):
    source = Path(v1_path).read_text(encoding="utf-8")
    change = CAUSES[cause]
    if isinstance(change, tuple):
        old, new = change
        if source.count(old) != 1:
            raise ValueError(f"{v1_path} is not generator v1: {old!r} not found once.")
        source = source.replace(old, new)
    module = importlib.util.module_from_spec(
        importlib.util.spec_from_loader(f"generator_v1_{cause}", loader=None))
    exec(compile(source, str(v1_path), "exec"), module.__dict__)
    return module, change if isinstance(change, float) else 0.5


def lambda_inside_outside(run, data):
    """Mean lambda on the ground-truth region's cells and on the other cells
    of the test event segments."""
    from keras_avl.data import make_dataset
    from keras_avl.models import inference_model

    inputs = make_dataset(data, "test", "supervised", 64, shuffle=False).map(lambda x, y: x)
    attention = inference_model(run.load_model()).predict(inputs, verbose=0)["spatial_attention"]
    regions = data.regions[data.orders["test"]] > 0
    event = regions.any((2, 3))[..., None, None]
    return float(attention[regions].mean()), float(attention[~regions & event].mean())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--v1", required=True, help="generator v1's source file.")
    parser.add_argument("--cause", default="none", choices=tuple(CAUSES))
    parser.add_argument("--seed", type=int, default=0, help="the training seed.")
    parser.add_argument("--model", default="paper")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--out", default="runs/generator_ablation")
    args = parser.parse_args()

    from keras_avl.data import load_ave
    from keras_avl.training import evaluate, train

    generator, noise = load_generator(args.v1, args.cause)
    data_dir = Path(args.out) / f"data-{args.cause}"
    if not data_dir.is_dir():  # generated once per cause, shared by the seeds
        staging = data_dir.parent / f".{data_dir.name}.{os.getpid()}"
        generator.generate_dataset(staging, size="small", seed=0, noise=noise)
        try:
            os.rename(staging, data_dir)
        except OSError:
            shutil.rmtree(staging)
    run = train(Path(args.out) / f"run-{args.cause}-{args.model}-s{args.seed}", "supervised",
                args.model, data=data_dir, epochs=args.epochs, seed=args.seed, verbose=0)
    result = evaluate(run, data=data_dir)
    data = load_ave(data_dir)
    inside, outside = lambda_inside_outside(run, data)
    with __import__("h5py").File(data.visual_path, "r") as handle:
        visual = handle["avadataset"][:50]
    print(json.dumps({
        "cause": args.cause, "model": args.model, "seed": args.seed,
        "pointing_game": result["pointing_game"], "chance": result["pointing_game_chance"],
        "segment_accuracy": result["segment_accuracy"],
        "lambda_in": inside, "lambda_out": outside, "ratio": inside / outside,
        "visual_zero_share": float(np.mean(visual == 0)),
    }))


if __name__ == "__main__":
    main()
