"""`keras-avl tune`: a keras-tuner search over the model's hyperparameters.

A thin shell over `keras_avl.tuning.tune`.
"""

import json
from pathlib import Path

from keras_avl.cli.errors import reports_errors

DEFAULT_DIRECTORY = "runs/tune-{regime}"


def read_search_space(path):
    """The search space in the JSON file `path` (None: the default space)."""
    if path is None:
        return None
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"Search space file {path} not found: expected a JSON object of "
            'hyperparameter -> list of choices or {"min", "max"} range.'
        )
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"Search space file {path} is not valid JSON: {error}") from error


@reports_errors
def run(args):
    from keras_avl.cli.training_arguments import data_arguments, training_config
    from keras_avl.tuning import tune

    directory = args.directory or DEFAULT_DIRECTORY.format(regime=args.regime)
    result = tune(directory, args.regime, training=training_config(args),
                  max_trials=args.max_trials, search_space=read_search_space(args.search_space),
                  tuner=args.tuner, overwrite=args.overwrite, verbose=args.verbose,
                  **data_arguments(args))
    print(
        f"Best {result.objective}: {result.best_score:.4f} after "
        f"{result.trials_completed} trial(s)."
    )
    print(f"Best config: {result.best_config_path}")
    print(f"Report: {result.report_path}")
    return 0


def register(subparsers):
    from keras_avl.cli.training_arguments import add_training_arguments

    parser = subparsers.add_parser(
        "tune", help="search hyperparameters with keras-tuner",
        description="Search AVLConfig hyperparameters (MFB factor and size, hidden "
        "sizes, SWAB units and pooling, fusion, dropout, learning rate, and the "
        "AVTGML margin for --regime unsupervised). Writes the tuner folder, "
        "best_config.json and report.md into --directory; rerunning the same "
        "command resumes the search.")
    parser.add_argument("--regime", required=True,
                        choices=("supervised", "weak", "unsupervised"))
    parser.add_argument("--max-trials", type=int, default=10,
                        help="total trials of the search (default: %(default)s)")
    parser.add_argument("--directory", default=None,
                        help=f"search folder (default: {DEFAULT_DIRECTORY})")
    parser.add_argument("--search-space", default=None, metavar="FILE",
                        help='JSON file: {"hidden": [64, 128], "dropout": {"min": 0, '
                        '"max": 0.5}, ...} (default: every tunable field)')
    parser.add_argument("--tuner", default="random", choices=("random", "bayesian"))
    parser.add_argument("--overwrite", action="store_true",
                        help="discard a previous search in --directory instead of resuming")
    parser.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2))
    # `keras_avl.tuning.tune.TUNE_FIELDS` (not imported: it would import Keras).
    add_training_arguments(parser, ("epochs", "batch_size", "learning_rate", "seed",
                                    "mixed_precision"))
    parser.set_defaults(func=run)
