"""A keras-tuner search over the paper's hyperparameters.

`AVLHyperModel` turns a `PaperConfig` (alias `AVLConfig`) plus a search space into a
`keras_tuner.HyperModel`, so any keras-tuner tuner can search it; the best
trial's values give back a `PaperConfig`. (`keras-avl tune` does the same from
the command line, with a resumable folder, `best_config.json` and a report.)

    python examples/tuner_search.py --tiny --out search/
"""

import keras_tuner
from example_setup import example_arguments, example_config, fit_settings, load_example_data

from keras_avl.data import make_dataset
from keras_avl.tuning import AVLHyperModel


def main(argv=None):
    args = example_arguments(__doc__, out="tuner_search").parse_args(argv)
    data = load_example_data(args)
    base = example_config(data, args)  # what the search leaves alone
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
    batch_size, epochs = fit_settings(args)
    tuner.search(
        make_dataset(data, "train", "supervised", batch_size),
        validation_data=make_dataset(data, "val", "supervised", batch_size),
        epochs=epochs,
        verbose=2,
    )
    best = tuner.get_best_hyperparameters(1)[0]
    config = tuner.hypermodel.config(best)  # the best trial as a PaperConfig
    print(f"best values: {best.values}")
    print(config.to_json())
    return config


if __name__ == "__main__":
    main()
