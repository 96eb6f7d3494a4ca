"""Weakly supervised event localization: train on video labels only (§3.6).

The model sees one label per video (plus background-only "noisy" videos); MIL
pooling averages its per-segment class probabilities into a video prediction.
After training, `inference_model` exposes the per-segment probabilities, which
are scored against the segment labels the model never saw.

    python examples/weakly_supervised.py --tiny
"""

import numpy as np
from example_setup import example_arguments, example_config, fit_settings, load_example_data

from keras_avl.data import make_dataset
from keras_avl.models import build_model, inference_model


def main(argv=None):
    args = example_arguments(__doc__).parse_args(argv)
    data = load_example_data(args)
    model = build_model(example_config(data, args), "weak")  # output (B, C)

    batch_size, epochs = fit_settings(args)
    # The "weak" pipeline yields video labels and adds the noisy videos to train.
    model.fit(
        make_dataset(data, "train", "weak", batch_size),
        validation_data=make_dataset(data, "val", "weak", batch_size),
        epochs=epochs,
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
