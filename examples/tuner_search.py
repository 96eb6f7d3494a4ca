"""A keras-tuner search over the paper's hyperparameters.

`AVLHyperModel` turns an `AVLConfig` plus a search space into a
`keras_tuner.HyperModel`, so any keras-tuner tuner can search it; the best
trial's values give back an `AVLConfig`. (`keras-avl tune` does the same from
the command line, with a resumable folder, `best_config.json` and a report.)

    python examples/tuner_search.py --tiny --out search/
"""

import argparse

import keras
import keras_tuner

from keras_avl.data import embedded_default, load_ave, make_dataset
from keras_avl.models import AVLConfig
from keras_avl.tuning import AVLHyperModel


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="AVE-layout folder (default: embedded dataset)")
    parser.add_argument("--tiny", action="store_true", help="tiny data, model and search")
    parser.add_argument("--out", default="tuner_search", help="the tuner's folder")
    args = parser.parse_args(argv)

    keras.utils.set_random_seed(0)
    data = load_ave(args.data or embedded_default("tiny" if args.tiny else "small"))
    base = AVLConfig(**data.model_config_kwargs())
    if args.tiny:
        base = base.replace(embed_dim=8, mfb_output_dim=8)
    # Lists are choices; dicts are ranges (Int or Float after the field's type).
    search_space = {
        "hidden": [8, 16] if args.tiny else [64, 128, 256],
        "swab_pooling": ["mean", "max", "mean+max"],
        "dropout": {"min": 0.0, "max": 0.5, "step": 0.1},
        "learning_rate": {"min": 1e-4, "max": 1e-2, "sampling": "log"},
    }
    tuner = keras_tuner.RandomSearch(
        AVLHyperModel("supervised", base, search_space),
        objective=keras_tuner.Objective("val_categorical_accuracy", "max"),
        max_trials=2 if args.tiny else 10,
        seed=0,
        directory=args.out,
        project_name="supervised",  # rerunning resumes this search
    )
    batch_size = 16 if args.tiny else 64
    tuner.search(
        make_dataset(data, "train", "supervised", batch_size),
        validation_data=make_dataset(data, "val", "supervised", batch_size),
        epochs=1 if args.tiny else 5,
        verbose=2,
    )
    best = tuner.get_best_hyperparameters(1)[0]
    config = tuner.hypermodel.config(best)  # the best trial as an AVLConfig
    print(f"best values: {best.values}")
    print(config.to_json())
    return config


if __name__ == "__main__":
    main()
