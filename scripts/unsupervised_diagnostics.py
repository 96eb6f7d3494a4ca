"""Diagnostics of AVTGML (docs/reproducing_the_paper.md, unsupervised section).

gradients RUN_DIR...: for the best checkpoint of each unsupervised run (and a
    fresh model of the same config, `--fresh`), the mean over the first train
    batches of the gradient norm of AVTGML for each group of weights: the MFB
    weights (U, V, W_z, b_z; they act on lambda only, since MF_v = sum_s
    lambda_s F_v,s), AVFB's LSTM branch, the visual temporal stream (LSTM +
    SWAB) and the audio stream; relative norms ||g|| / ||w|| beside; and the
    val pointing game of that model (so the untrained one's too).
gram [--data FOLDER]: a model-free check of what the Gram criterion rewards:
    for every test video with events, the cosine <G(F_v,s), G(F_a)> of the
    normalised Gram matrix of each cell's raw visual sequence with the audio's;
    how often the best cell is on the sounding object, against chance.
selection NPZ...: label-free epoch-selection criteria per epoch, from the
    `val_attention.npz` that `unsupervised_study.py` writes into each run
    folder (val lambda of every epoch with the own and another video's
    audio): the val pointing game (labels; the yardstick only), the audio
    dependence (mean total variation between lambda(v, a) and lambda(v, a')),
    the temporal correlation of consecutive maps with the own audio and with
    the other audio, and their difference C (`selection="audio-consistency"`).
"""

import argparse
import json
from pathlib import Path

import numpy as np

GROUPS = {
    "mfb (lambda)": ("avfb/mfb/",),
    "avfb lstm branch": ("avfb/audio_embedding", "avfb/visual_embedding", "avfb/fusion_lstm"),
    "visual stream": ("visual_lstm", "visual_swab"),
    "audio stream": ("audio_lstm", "audio_swab"),
}


def gradient_norms(model, batches):
    import tensorflow as tf

    sums = {group: 0.0 for group in GROUPS}
    weight_norms = {}
    for inputs, targets in batches:
        with tf.GradientTape() as tape:
            loss = model.loss(targets, model(inputs, training=True))
        grads = tape.gradient(loss, model.trainable_weights)
        for group, prefixes in GROUPS.items():
            chosen = [(g, w) for g, w in zip(grads, model.trainable_weights)
                      if w.path.startswith(prefixes) and g is not None]
            sums[group] += float(np.sqrt(sum(float(tf.reduce_sum(g * g)) for g, _ in chosen)))
            weight_norms[group] = float(np.sqrt(sum(
                float(tf.reduce_sum(w * w)) for _, w in chosen)))
    n = len(batches)
    return {group: {"grad_norm": sums[group] / n,
                    "relative": sums[group] / n / max(weight_norms[group], 1e-12)}
            for group in GROUPS}


def gradients(args):
    import keras

    from keras_avl.data import make_dataset
    from keras_avl.models import build_model, inference_model
    from keras_avl.runs import load_run
    from keras_avl.training.metrics import pointing_game
    from keras_avl.training.train import resolve_data

    for run_dir in args.runs:
        run = load_run(run_dir)
        data, _ = resolve_data(run.data, run.training.get("embedded_size", "small"))
        dataset = make_dataset(data, "train", "unsupervised", 64, seed=0,
                               negative_sampling=run.model_config.negative_sampling)
        batches = [dataset[i] for i in range(min(args.batches, len(dataset)))]  # pass 0
        keras.utils.set_random_seed(run.training["seed"])
        models = {"trained": run.load_model()}
        if args.fresh:
            models = {"init": build_model(run.model_config, "unsupervised"), **models}
        val = make_dataset(data, "val", "unsupervised", 64, shuffle=False).map(lambda x, y: x)
        order = data.orders["val"]
        event = data.segment_labels[order].argmax(-1) != data.background
        for stage, model in models.items():
            attention = inference_model(model).predict(val, verbose=0)["spatial_attention"]
            row = {"run": str(run_dir), "stage": stage,
                   "val_pointing_game": pointing_game(attention, data.regions[order],
                                                      event)["pointing_game"],
                   **gradient_norms(model, batches)}
            print(json.dumps(row), flush=True)


def normalized_gram(x):
    gram = x @ np.swapaxes(x, -1, -2)
    return gram / np.maximum(np.sqrt((gram ** 2).sum((-2, -1), keepdims=True)), 1e-12)


def gram(args):
    from keras_avl.data import load_ave
    from keras_avl.training.train import resolve_data

    data, _ = resolve_data(args.data, args.embedded_size) if args.data is None else (
        load_ave(args.data), None)
    import h5py

    order = np.sort(data.orders["test"])
    with h5py.File(data.visual_path, "r") as f:
        visual = f["avadataset"][order].astype(np.float32)
    n, t, h, w, d = visual.shape
    cells = visual.reshape(n, t, h * w, d).transpose(0, 2, 1, 3)  # (N, S, T, d)
    audio_gram = normalized_gram(data.audio[order])  # (N, T, T)
    regions = data.regions[order].reshape(n, t, h * w) > 0
    object_cells = regions.any(1)  # (N, S): the object's block over the video
    results = {}
    for name, transform in (("raw", lambda x: x),
                            ("centred per video", lambda x: x - x.mean((1, 2), keepdims=True))):
        x = transform(cells)
        scores = (normalized_gram(x) * audio_gram[:, None]).sum((-2, -1))  # (N, S)
        videos = object_cells.any(1)
        best = scores.argmax(1)
        hits = object_cells[np.arange(n), best][videos]
        results[name] = {"best_cell_on_object": float(hits.mean()),
                         "chance": float(object_cells[videos].mean()),
                         "videos": int(videos.sum())}
    print(json.dumps(results, indent=2))


def selection(args):
    from keras_avl.training.audio_consistency import temporal_correlations
    from keras_avl.training.metrics import pointing_game

    for path in args.npz:
        z = np.load(path)
        valid = (z["segment_mask"] != 0) & (z["segment_mask_negative"] != 0)
        pairs = valid[:, 1:] & valid[:, :-1]
        for epoch, (own, swapped) in enumerate(zip(z["own"], z["swapped"]), 1):
            n, t = own.shape[:2]
            distance = 0.5 * np.abs(own - swapped).reshape(n, t, -1).sum(-1)
            rho_own, rho_other = (temporal_correlations(m)[pairs].mean() for m in (own, swapped))
            print(json.dumps({
                "npz": str(path), "epoch": epoch,
                "val_pointing_game": pointing_game(own, z["regions"], z["event"])[
                    "pointing_game"],
                "audio_dependence": float(distance[valid].mean()),
                "consistency_own_audio": float(rho_own),
                "consistency_other_audio": float(rho_other),
                "audio_consistency": float(rho_own - rho_other)}), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(required=True)
    p = sub.add_parser("gradients")
    p.add_argument("runs", nargs="+", type=Path)
    p.add_argument("--batches", type=int, default=4)
    p.add_argument("--fresh", action="store_true")
    p.set_defaults(func=gradients)
    p = sub.add_parser("gram")
    p.add_argument("--data", default=None)
    p.add_argument("--embedded-size", default="small")
    p.set_defaults(func=gram)
    p = sub.add_parser("selection")
    p.add_argument("npz", nargs="+", type=Path)
    p.set_defaults(func=selection)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
