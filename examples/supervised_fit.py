"""Supervised audio-visual event localization with `model.fit` (paper §3.6).

Trains the paper's model (AVFB + SWAB + aggregation) on per-segment labels of
the embedded default dataset (generated on first use; no download) and reports
AVE's metric, the segment accuracy, on the test split.

    python examples/supervised_fit.py            # small default, a few minutes on a CPU
    python examples/supervised_fit.py --tiny     # seconds: tiny data and model
    python examples/supervised_fit.py --data /path/to/AVE   # the real features
"""

import numpy as np
from example_setup import example_arguments, example_config, fit_settings, load_example_data

from keras_avl.data import make_dataset
from keras_avl.models import build_model


def main(argv=None):
    args = example_arguments(__doc__).parse_args(argv)
    data = load_example_data(args)
    model = build_model(example_config(data, args), "supervised")  # compiled, (B, T, C)

    batch_size, epochs = fit_settings(args)
    model.fit(
        make_dataset(data, "train", "supervised", batch_size),  # targets (B, T, C)
        validation_data=make_dataset(data, "val", "supervised", batch_size),
        epochs=epochs,
        verbose=2,
    )

    # Segment accuracy: argmax class of every test segment vs. its label.
    test = make_dataset(data, "test", "supervised", batch_size)
    probabilities = model.predict(test, verbose=0)
    labels = data.segment_labels[data.orders["test"]]
    accuracy = np.mean(probabilities.argmax(-1) == labels.argmax(-1))
    print(f"test segment accuracy: {accuracy:.3f} "
          f"(share of background segments: {np.mean(labels.argmax(-1) == data.background):.3f})")
    return accuracy


if __name__ == "__main__":
    main()
