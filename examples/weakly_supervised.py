"""Weakly supervised event localization: train on video labels only (§3.6).

The model sees one label per video (plus background-only "noisy" videos); MIL
pooling averages its per-segment class probabilities into a video prediction.
After training, `inference_model` exposes the per-segment probabilities, which
are scored against the segment labels the model never saw.

    python examples/weakly_supervised.py --tiny
"""

import argparse

import keras
import numpy as np

from keras_avl.data import embedded_default, load_ave, make_dataset
from keras_avl.models import AVLConfig, build_weakly_supervised, inference_model


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="AVE-layout folder (default: embedded dataset)")
    parser.add_argument("--tiny", action="store_true", help="tiny data and model")
    parser.add_argument("--epochs", type=int, default=None)
    args = parser.parse_args(argv)

    keras.utils.set_random_seed(0)
    data = load_ave(args.data or embedded_default("tiny" if args.tiny else "small"))
    config = AVLConfig(**data.model_config_kwargs())
    if args.tiny:
        config = config.replace(embed_dim=8, mfb_output_dim=8, hidden=8, swab_units=8)
    model = build_weakly_supervised(config)  # output: video probabilities (B, C)

    batch_size = 16 if args.tiny else 64
    # The "weak" pipeline yields video labels and adds the noisy videos to train.
    model.fit(
        make_dataset(data, "train", "weak", batch_size),
        validation_data=make_dataset(data, "val", "weak", batch_size),
        epochs=args.epochs or (1 if args.tiny else 10),
        verbose=2,
    )

    segments = inference_model(model)  # same weights, per-segment outputs
    outputs = segments.predict(make_dataset(data, "test", "weak", batch_size), verbose=0)
    predicted = outputs["segment_probabilities"].argmax(-1)  # (N, T)
    truth = data.segment_labels[data.orders["test"]].argmax(-1)
    accuracy = np.mean(predicted == truth)
    print(f"test segment accuracy from video-level training: {accuracy:.3f}")
    return accuracy


if __name__ == "__main__":
    main()
