"""`keras-avl compare`: trains and evaluates several models on one dataset and
writes a markdown table like the paper's Tables 1-3.

A thin shell over `keras_avl.training.compare`.
"""

from keras_avl.cli.errors import reports_errors
from keras_avl.cli.training_arguments import (
    add_training_arguments,
    data_arguments,
    training_config,
)

# The recipe's flags of `compare` (its runs are deterministic, one process).
COMPARE_FIELDS = ("epochs", "batch_size", "learning_rate", "seed", "selection", "protocol",
                  "mixed_precision", "jit_compile", "steps_per_execution")


def _names(text):
    return [name.strip() for name in text.split(",") if name.strip()]


@reports_errors
def run(args):
    from keras_avl.training import compare, markdown_table

    from keras_avl.training.compare import parse_seeds

    seeds = None if args.seeds is None else parse_seeds(args.seeds)
    rows = compare(args.runs_dir, models=_names(args.models), regimes=_names(args.regimes),
                   training=training_config(args), seeds=seeds, split=args.split,
                   resume=args.resume, output=args.output, title=args.title,
                   verbose=args.verbose, isolate_runs=not args.in_process,
                   **data_arguments(args))
    print(markdown_table(rows, args.title))
    if args.output:
        print(f"Written: {args.output}")
    return 0


def register(subparsers):
    parser = subparsers.add_parser(
        "compare", help="train and evaluate several models, write a results table",
        description="Train every --models x --regimes pair with every seed into "
        "RUNS_DIR/<regime>-<model>/seed<k> (deterministic ops), keep each run's best "
        "epoch on val, evaluate it on --split and write a markdown table of mean ± std "
        "over the seeds (and a .json copy with the per-seed values), both written beside "
        "and renamed together. Prints runs done / total, the time of each run and the "
        "ETA. --protocol own trains each model with its own recipe where it has one.")
    parser.add_argument("--models", default="paper,audio,visual,avatt",
                        help="comma-separated presets (`keras-avl models` lists them)")
    parser.add_argument("--regimes", default="supervised",
                        help="comma-separated regimes: supervised, weak, unsupervised")
    parser.add_argument("--runs-dir", default="runs/compare")
    parser.add_argument("--output", default=None, help="markdown file for the table")
    parser.add_argument("--title", default=None)
    parser.add_argument("--split", default="test", choices=("train", "val", "test"))
    parser.add_argument("--seeds", default=None,
                        help="a count N (seeds 0..N-1, e.g. 3) or a comma-separated list "
                        "of distinct seeds (e.g. 0,4,7); default: the single --seed")
    parser.add_argument("--resume", action="store_true",
                        help="reuse finished runs (after checking their config.json "
                        "against this table's settings: a clear error names the run and "
                        "what differs) and continue interrupted ones from their last "
                        "complete epoch; the table is then the same as uninterrupted")
    parser.add_argument("--verbose", type=int, default=2, choices=(0, 1, 2))
    parser.add_argument("--in-process", action="store_true",
                        help="train every run in this process instead of a fresh process "
                        "per run (saves a few seconds per run; TensorFlow then keeps "
                        "each run's traced graphs, so memory grows with the runs)")
    add_training_arguments(parser, COMPARE_FIELDS)
    parser.set_defaults(func=run)
