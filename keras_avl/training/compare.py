"""`compare`: trains and evaluates several models on one dataset and writes a
markdown table like the paper's Tables 1-3 (with a JSON copy)."""

import json
import shlex
from pathlib import Path

from keras_avl.atomic import atomic_write_text
from keras_avl.models import REGIMES
from keras_avl.models.registry import model_names
from keras_avl.training.evaluate import evaluate
from keras_avl.training.train import DEFAULT_EPOCHS, train
from keras_avl.validation import check_choice


def _percent(value):
    return "n/a" if value is None else f"{100 * value:.1f}"


def train_command(run_dir, regime, variant, data, epochs, batch_size, learning_rate, seed,
                  overrides, embedded_size="small"):
    """The `keras-avl train` command line that trains one row."""
    words = ["keras-avl", "train", "--regime", regime, "--model", variant,
             "--epochs", str(epochs), "--seed", str(seed), "--run-dir", str(run_dir)]
    if batch_size != 64:
        words += ["--batch-size", str(batch_size)]
    if learning_rate != 1e-3:
        words += ["--learning-rate", str(learning_rate)]
    if data is not None:
        words += ["--data", str(data)]
    elif embedded_size != "small":
        words += ["--embedded-size", embedded_size]
    for key, value in sorted(overrides.items()):
        words += ["--set", f"{key}={json.dumps(value)}"]
    return shlex.join(words)


def markdown_table(rows, title=None):
    """The rows of `compare` as a markdown table."""
    lines = [f"### {title}", ""] if title else []
    lines += [
        "| regime | model | segment accuracy (%) | pointing game (%) | chance (%) | epochs | commands |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        commands = f"`{row['train_command']}` then `{row['evaluate_command']}`"
        lines.append(
            f"| {row['regime']} | {row['variant']} | {_percent(row['segment_accuracy'])} "
            f"| {_percent(row['pointing_game'])} | {_percent(row['pointing_game_chance'])} "
            f"| {row['epochs']} | {commands} |"
        )
    return "\n".join(lines) + "\n"


def compare(
    runs_dir,
    models=("paper",),
    regimes=("supervised",),
    data=None,
    epochs=DEFAULT_EPOCHS,
    batch_size=64,
    learning_rate=1e-3,
    seed=0,
    split="test",
    resume=False,
    output=None,
    title=None,
    verbose=1,
    embedded_size="small",
    **model_overrides,
):
    """Trains every (regime, model) pair into `runs_dir/<regime>-<model>` and
    evaluates it on `split`.

    Pairs that a regime cannot build (the unsupervised regime needs the paper's
    two-stream architecture with SWAB; AVSDN, PSP and CMBS have no unsupervised
    model) are skipped. With `resume`, finished
    runs are reused and interrupted ones continued.

    Args:
        runs_dir: the folder of the run folders.
        models: variant names (`keras_avl.models.VARIANTS`) or registered
            methods (`keras_avl.models.METHODS`).
        regimes: regimes (`keras_avl.models.REGIMES`).
        data: the dataset folder; None: the embedded default.
        epochs, batch_size, learning_rate, seed, **model_overrides: as `train`.
        split: the split reported.
        resume: reuse/continue existing run folders instead of failing.
        output: a `.md` file for the table (a `.json` copy is written beside).
        title: the table's title.
        verbose: `fit` verbosity.
        embedded_size: the embedded default's size when `data` is None.

    Returns:
        A list of row dicts (regime, variant, the metrics of `evaluate`, the
        epochs and the commands that reproduce the row).

    Example:

    >>> import os, tempfile
    >>> os.environ["KERAS_AVL_HOME"] = tempfile.mkdtemp()
    >>> rows = compare(tempfile.mkdtemp(), models=["audio"], epochs=1, verbose=0,
    ...                embedded_size="tiny", hidden=8, swab_units=8)
    >>> [(row["regime"], row["variant"]) for row in rows]
    [('supervised', 'audio')]
    """
    runs_dir = Path(runs_dir)
    for regime in regimes:
        check_choice("regime", regime, REGIMES)
    for model in models:
        check_choice("model", model, model_names())
    rows = []
    for regime in regimes:
        for variant in models:
            run_dir = runs_dir / f"{regime}-{variant}"
            try:
                run = train(run_dir, regime, variant, data=data, epochs=epochs,
                            batch_size=batch_size, learning_rate=learning_rate, seed=seed,
                            resume=resume and run_dir.exists(), verbose=verbose,
                            embedded_size=embedded_size, **model_overrides)
            except ValueError as error:
                if regime == "unsupervised" and not run_dir.exists():
                    print(f"Skipped {regime}/{variant}: {error}")
                    continue
                raise
            result = evaluate(run, split)
            rows.append({
                "regime": regime,
                "variant": variant,
                "epochs": run.training["epochs"],
                **{key: result[key] for key in (
                    "segment_accuracy", "pointing_game", "pointing_game_chance",
                    "pointing_game_segments", "per_class_accuracy")},
                "run_dir": str(run_dir),
                "train_command": train_command(run_dir, regime, variant, data, epochs,
                                               batch_size, learning_rate, seed,
                                               model_overrides, embedded_size),
                "evaluate_command": shlex.join(
                    ["keras-avl", "evaluate", str(run_dir), "--split", split]),
            })
    if output is not None:
        output = Path(output)
        atomic_write_text(output, markdown_table(rows, title))
        atomic_write_text(output.with_suffix(".json"), json.dumps(rows, indent=2) + "\n")
    return rows
