"""Unsupervised sound localization with AVTGML, and the attention maps (§3.7).

No labels: the model learns to match a video's visual stream with its own audio
rather than with another video's (the Gram-matrix triplet loss). Its spatial
attention lambda says where the sound comes from; this script saves lambda for
a few test videos as PNG strips (one panel per segment, lambda over the
ground-truth sounding region in white) and scores the pointing game.

    python examples/unsupervised_attention_maps.py --tiny --out maps/
"""

from pathlib import Path

import numpy as np
from example_setup import example_arguments, example_config, fit_settings, load_example_data

from keras_avl.data import make_dataset
from keras_avl.models import build_model, inference_model
from keras_avl.training.metrics import pointing_game
from keras_avl.visualization import save_heatmap_strip

PIXELS_PER_CELL = 16


def main(argv=None):
    parser = example_arguments(__doc__, out="attention_maps")
    parser.add_argument("--videos", type=int, default=3, help="test videos to draw")
    args = parser.parse_args(argv)
    data = load_example_data(args)
    model = build_model(example_config(data, args), "unsupervised")  # + audio_negative

    batch_size, epochs = fit_settings(args)
    model.fit(  # no labels: the pipeline pairs each video with another's audio
        make_dataset(data, "train", "unsupervised", batch_size),
        validation_data=make_dataset(data, "val", "unsupervised", batch_size),
        epochs=epochs,
        verbose=2,
    )

    maps = inference_model(model).predict(
        make_dataset(data, "test", "unsupervised", batch_size), verbose=0
    )
    attention = maps["spatial_attention"]  # lambda, (N, T, H, W)
    order = data.orders["test"]
    event = data.segment_labels[order].argmax(-1) != data.background
    if data.regions is not None:
        score = pointing_game(attention, data.regions[order], event)
        print(f"pointing game: {score['pointing_game']} "
              f"(chance {score['pointing_game_chance']:.3f})")

    out = Path(args.out)
    for k in range(min(args.videos, len(order))):
        if data.regions is not None:  # the true sounding region, white on grey
            cells = 64 + 191 * (data.regions[order[k]] > 0).astype(np.uint8)
        else:
            cells = np.full(attention.shape[1:], 128, np.uint8)
        frames = np.kron(cells, np.ones((PIXELS_PER_CELL, PIXELS_PER_CELL), np.uint8))
        frames = np.repeat(frames[..., None], 3, axis=-1)  # (T, h, w, 3)
        titles = [f"{t}s {'event' if event[k, t] else 'bg'}" for t in range(len(frames))]
        save_heatmap_strip(out / f"video{order[k]}.png", frames, attention[k],
                           np.ones(len(frames)), titles)
    print(f"attention maps: {out.resolve()}")
    return attention


if __name__ == "__main__":
    main()
