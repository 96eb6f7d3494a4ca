"""`compare`: trains and evaluates several models on one dataset, with one or
several seeds, and writes a markdown table like the paper's Tables 1-3 (with a
JSON copy).

Every (regime, model) row is trained once per seed into
`<runs_dir>/<regime>-<model>/seed<k>`; each run keeps the epoch of best
validation score (`keras_avl.training.train`: never the test split) and is
evaluated on `split`. A row reports, for segment accuracy and every
localization metric, the mean and the sample standard deviation (n - 1) over
the seeds, and keeps the per-seed values in the JSON.

Resumable at any moment (`resume=True`, CLI `--resume`): a run is the unit of
work; a finished run is reused once its recorded `config.json` is checked
against the settings of this table (a clear error names the run and each
setting that differs; nothing is overwritten), an interrupted run continues
from its last complete epoch (`train(resume=True)`: it ends as if never
interrupted), and each run's evaluation is recomputed. The table and its JSON
are written beside and renamed together at the end: a kill or a full disk
leaves the previous ones whole. The terminal shows runs done / total, the
time of each run and the ETA.

Each run is trained and evaluated in a fresh Python process
(`keras_avl.fresh_process`): the caller's memory stays flat however many runs
a table has, and a run starts from the same state as its recorded `keras-avl
train` command run alone.
"""

import json
import shlex
import statistics
import time
from pathlib import Path

from keras_avl.atomic import atomic_path, disk_full_is_clear
from keras_avl.fresh_process import call_in_fresh_process
from keras_avl.models import REGIMES
from keras_avl.models.registry import model_names
from keras_avl.runs import CONFIG_FILE, METRICS_FILE, load_run
from keras_avl.training.audio_consistency import DEFAULT_SELECTION
from keras_avl.training.evaluate import evaluate
from keras_avl.protocols import resolve_protocol
from keras_avl.training.train import plan_run, requested_training, train
from keras_avl.validation import check_choice

# Reported as mean +- std over the seeds; the cIoU metrics on maps upsampled
# to the image size (`keras_avl.training.localization_metrics`).
METRICS = ("segment_accuracy", "pointing_game", "ciou_ap50", "ciou", "ciou_auc")
# The chance levels of the localization metrics (a property of the data).
CHANCES = ("pointing_game_chance", "ciou_ap50_chance", "ciou_chance", "ciou_auc_chance")
_PER_RUN = METRICS + CHANCES + ("pointing_game_segments", "ciou_segments",
                                "ciou_ap50_ceiling", "localization_note",
                                "per_class_accuracy")


def resolve_seeds(seeds, seed=0):
    """The list of seeds: `seeds` a count N (seeds 0..N-1) or a list of distinct
    seeds >= 0; None: `[seed]`. Raises a clear ValueError otherwise.

    Example:

    >>> resolve_seeds(3), resolve_seeds([0, 4, 7]), resolve_seeds(None, seed=5)
    ([0, 1, 2], [0, 4, 7], [5])
    """
    if seeds is None:
        return [int(seed)]
    if seed != 0:
        raise ValueError(
            f"Give either `seeds` or `seed`, not both; received seeds={seeds!r} and "
            f"seed={seed!r}."
        )
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        if seeds < 1:
            raise ValueError(
                "`seeds` must be a count >= 1 or a list of distinct seeds >= 0; "
                f"received seeds={seeds!r}."
            )
        return list(range(seeds))
    seeds = list(seeds) if isinstance(seeds, (list, tuple)) else None
    if not seeds or any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in seeds):
        raise ValueError(
            "`seeds` must be a count >= 1 or a non-empty list of integer seeds >= 0; "
            f"received seeds={seeds!r}."
        )
    duplicates = sorted({s for s in seeds if seeds.count(s) > 1})
    if duplicates:
        raise ValueError(f"`seeds` must be distinct; received {seeds} (repeated: {duplicates}).")
    return seeds


def parse_seeds(text):
    """The CLI's `--seeds`: `"3"` -> 3 (a count), `"0,4,7"` -> [0, 4, 7]."""
    words = [word.strip() for word in text.split(",")]
    try:
        values = [int(word) for word in words]
    except ValueError:
        raise ValueError(
            "--seeds expects a count (e.g. 3) or a comma-separated list of seeds "
            f"(e.g. 0,4,7); received {text!r}."
        ) from None
    return resolve_seeds(values[0] if len(words) == 1 else values)


def summarize(values):
    """`{"mean", "std", "n", "values"}` of per-seed values; mean and std are None
    when a value is None (n/a), std is None for one seed.

    Example:

    >>> summarize([0.5, 0.7])
    {'mean': 0.6, 'std': 0.14142135623730948, 'n': 2, 'values': [0.5, 0.7]}
    """
    values = list(values)
    missing = any(value is None for value in values)
    mean = None if missing else statistics.fmean(values)
    std = None if missing or len(values) < 2 else statistics.stdev(values)
    return {"mean": mean, "std": std, "n": len(values), "values": values}


def _percent(summary):
    if summary["mean"] is None:
        return "n/a"
    if summary["std"] is None:
        return f"{100 * summary['mean']:.1f} (1 seed)"
    return f"{100 * summary['mean']:.1f} ± {100 * summary['std']:.1f} ({summary['n']} seeds)"


def _chance(summary):
    return "n/a" if summary["mean"] is None else f"{100 * summary['mean']:.1f}"


def _training_words(data, training, model_config, embedded_size):
    """The command-line options of `training` (a row's `TrainingConfig`, its
    protocol the one asked for), the data and the config values."""
    words = [] if training.protocol is None else ["--protocol", training.protocol]
    if training.epochs is not None:
        words += ["--epochs", str(training.epochs)]
    if training.selection != DEFAULT_SELECTION:
        words += ["--selection", training.selection]
    if training.batch_size not in (None, 64):
        words += ["--batch-size", str(training.batch_size)]
    if training.learning_rate not in (None, 1e-3):
        words += ["--learning-rate", str(training.learning_rate)]
    if training.mixed_precision:
        words += ["--mixed-precision"]
    if training.jit_compile is not None:
        words += ["--jit-compile", "on" if training.jit_compile else "off"]
    if training.steps_per_execution != 1:
        words += ["--steps-per-execution", str(training.steps_per_execution)]
    if data is not None:
        words += ["--data", str(data)]
    elif embedded_size != "small":
        words += ["--embedded-size", embedded_size]
    for key, value in sorted((model_config or {}).items()):
        words += ["--set", f"{key}={json.dumps(value)}"]
    return words


def train_command(run_dir, regime, model, data, training, model_config=None,
                  embedded_size="small"):
    """The `keras-avl train` command line that trains one run of a row, alone
    exactly as within `compare` (its seed and kernel choice included), from
    the run's `TrainingConfig` (its protocol the one chosen by name, if any).

    Example:

    >>> from keras_avl.training_config import TrainingConfig
    >>> train_command("r", "weak", "psp", None, TrainingConfig(
    ...     protocol="psp-cvpr21-weak", epochs=2, seed=1, jit_compile=False))
    'keras-avl train --regime weak --model psp --seed 1 --run-dir r --deterministic --protocol psp-cvpr21-weak --epochs 2 --jit-compile off'
    """
    return shlex.join(
        ["keras-avl", "train", "--regime", regime, "--model", model,
         "--seed", str(training.seed), "--run-dir", str(run_dir), "--deterministic"]
        + _training_words(data, training, model_config, embedded_size))


def compare_command(runs_dir, regime, model, seeds, split, data, training, model_config=None,
                    embedded_size="small"):
    """The `keras-avl compare` command line that reproduces one whole row."""
    return shlex.join(
        ["keras-avl", "compare", "--regimes", regime, "--models", model,
         "--seeds", ",".join(map(str, seeds)), "--split", split, "--runs-dir", str(runs_dir)]
        + _training_words(data, training, model_config, embedded_size))


def markdown_table(rows, title=None):
    """The rows of `compare` as a markdown table: mean ± std (n seeds) of each
    metric, the chance levels of a random map, and the command of each row."""
    lines = [f"### {title}", ""] if title else []
    splits = sorted({row["split"] for row in rows})
    # The split is part of the table: a table on val may choose, one on test only reports.
    lines += [f"Scored on the {' / '.join(splits)} split; every run's epoch selected on val.", ""]
    lines += [
        "| regime | model | segment accuracy (%) | pointing game (%) | cIoU >= 0.5 (%) "
        "| mean cIoU (%) | AUC (%) | chance: PG / cIoU >= 0.5 / mean cIoU / AUC (%) "
        "| epochs | command |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        chance = " / ".join(_chance(row[key]) for key in CHANCES)
        cells = [row["regime"], row["variant"], *(_percent(row[key]) for key in METRICS),
                 chance, str(row["epochs"]), f"`{row['command']}`"]
        lines.append("| " + " | ".join(cells) + " |")
    notes = sorted({f"{row['variant']}: {row['localization_note']}" for row in rows
                    if row["localization_note"]})
    if notes:
        lines += ["", "Localization n/a: " + "; ".join(notes) + "."]
    ceilings = {run.get("ciou_ap50_ceiling") for row in rows
                for run in row.get("per_seed", ())}
    if ceilings == {0.0}:
        lines += ["", "cIoU >= 0.5 is out of reach on these data: the median binarisation "
                  "keeps half the image, and no ground-truth region covers the quarter "
                  "of the image that cIoU 0.5 needs."]
    return "\n".join(lines) + "\n"


def _chosen_protocol(protocol, model, regime):
    """The name of the protocol `train` chooses by name for a row (None: the
    common recipe or the model's default, picked again by `train`)."""
    recipe, chosen = resolve_protocol(protocol, model, regime)
    return recipe.name if chosen else None


def _run_training(training, model, regime, seed):
    """The `TrainingConfig` asked for one run of a row: the table's, with the
    run's seed, deterministic ops, the selection where it applies and, where
    a protocol is chosen by name, the batch size and rate left to it (the
    table's common values must not contradict a resume)."""
    chosen = _chosen_protocol(training.protocol, model, regime)
    run_training = training.replace(
        seed=seed, deterministic=True,
        selection=training.selection if regime == "unsupervised" else DEFAULT_SELECTION)
    if chosen is not None:
        run_training = run_training.replace(batch_size=None, learning_rate=None)
    return run_training, chosen


def _metrics(run_dir):
    path = Path(run_dir) / METRICS_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _differences(recorded, planned, prefix=""):
    """The `key: recorded -> planned` lines where two config dicts differ."""
    lines = []
    for key in sorted(set(recorded) | set(planned)):
        old, new = recorded.get(key), planned.get(key)
        if isinstance(old, dict) and isinstance(new, dict):
            lines += _differences(old, new, f"{prefix}{key}.")
        elif old != new:
            lines.append(f"{prefix}{key}: recorded {old!r}, this table {new!r}")
    return lines


def check_recorded_run(run_dir, arguments):
    """Before `compare` reuses or continues `run_dir`: its `config.json` must
    record the run this table would start (`train.plan_run` of `arguments`,
    `train`'s); a clear ValueError names the run and every setting that
    differs otherwise."""
    # Both as config.json records them (lists where the configs hold tuples).
    recorded, planned = (json.loads(json.dumps(run.to_dict()))
                         for run in (load_run(run_dir), plan_run(run_dir, **arguments)[0]))
    differences = _differences(recorded, planned)
    if differences:
        raise ValueError(
            f"Cannot resume the run {run_dir}: its {CONFIG_FILE} records other settings "
            f"than this table ({'; '.join(differences)}). Nothing was changed: use another "
            "--runs-dir, or the settings of that table."
        )


def _write_table(output, rows, title):
    """The table and its JSON, both written beside and renamed together."""
    output = Path(output)
    json_path = output.with_suffix(".json")
    with disk_full_is_clear(f"{output} and {json_path}",
                            "the previous files, if any, are untouched and the runs are "
                            "finished: free space and re-run with --resume."), \
            atomic_path(output) as table, atomic_path(json_path) as copy:
        table.write_text(markdown_table(rows, title), encoding="utf-8")
        copy.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")


def train_and_evaluate(run_dir, arguments, resume, verbose, split):
    """One run of a `compare` row: `train` (or continue) it with `arguments`,
    then evaluate it on `split`. Returns the evaluation and the run's
    `TrainingConfig`."""
    run = train(run_dir, **arguments, resume=resume, verbose=verbose)
    return evaluate(run, split), run.training


class _Progress:
    """Runs done / total, the time of each run and the ETA, on the terminal."""

    def __init__(self, total, verbose):
        self.total, self.verbose = total, verbose
        self.done, self.trained, self.seconds = 0, 0, 0.0

    def report(self, name, seconds, trained):
        self.done += 1
        if trained:  # a reused run costs only its evaluation: not in the ETA
            self.trained += 1
            self.seconds += seconds
        left = self.total - self.done
        eta = f"{left * self.seconds / self.trained:.0f} s" if self.trained else "n/a"
        if self.verbose:
            print(f"[{self.done}/{self.total}] {name}: {'trained' if trained else 'reused'}"
                  f" and evaluated in {seconds:.1f} s; ETA {eta} for {left} run(s)",
                  flush=True)


def _train_run(run_dir, arguments, resume, verbose, split, isolate_runs):
    """Trains (or continues, or reuses) one run of a row and evaluates it:
    `(evaluation, TrainingConfig, trained)`."""
    # A folder without config.json was killed before its first write.
    recorded = resume and (run_dir / CONFIG_FILE).exists()
    finished = recorded and _metrics(run_dir).get("completed", False)
    if recorded:
        check_recorded_run(run_dir, arguments)
    work = (run_dir, arguments, recorded, verbose, split)
    result, training = (call_in_fresh_process(train_and_evaluate, *work)
                        if isolate_runs else train_and_evaluate(*work))
    return result, training, not finished


def _row(runs_dir, arguments, seeds, split, per_seed, training):
    """A row of the table from its runs (`training`: one run's recorded
    `TrainingConfig`), with the command that reproduces it."""
    regime, model, asked = arguments["regime"], arguments["model"], arguments["training"]
    selection = asked.selection if regime == "unsupervised" else DEFAULT_SELECTION
    return {
        "regime": regime,
        "variant": model,
        "split": split,
        "seeds": seeds,
        "epochs": training.epochs,
        **{key: summarize(r[key] for r in per_seed) for key in METRICS + CHANCES},
        "localization_note": per_seed[0]["localization_note"],
        "per_seed": per_seed,
        "command": compare_command(
            runs_dir, regime, model, seeds, split, arguments["data"],
            asked.replace(selection=selection), arguments["model_config"],
            arguments["embedded_size"]),
    }


def compare(runs_dir, models=("paper",), regimes=("supervised",), data=None, training=None,
            seeds=None, split="test", resume=False, output=None, title=None, verbose=1,
            embedded_size="small", isolate_runs=True, model_config=None, **training_fields):
    """Trains every (regime, model) pair with every seed into
    `runs_dir/<regime>-<model>/seed<k>` and evaluates it on `split`.

    Pairs that a regime cannot build (the unsupervised regime needs the paper's
    two-stream architecture with SWAB; AVSDN, PSP and CMBS have no unsupervised
    model) are skipped. With `resume`, finished runs are reused and interrupted
    ones continued. Runs are deterministic per seed (`deterministic=True`).

    Args:
        runs_dir: the folder of the run folders.
        models: preset names (`keras_avl.models.presets()`, `keras-avl
            models`).
        regimes: regimes (`keras_avl.models.REGIMES`).
        data: the dataset folder; None: the embedded default.
        training: the `TrainingConfig` of every run, as `train` takes it
            (`epochs` None: the protocol's, else `DEFAULT_EPOCHS`); its
            `seed` when `seeds` is None, its `selection` for the
            unsupervised regime only. Its `protocol`, for every row: None
            (the common keras-avl recipe; `avatt` with its protocol's loss
            and schedule), `"own"` (each model's own recipe where it has
            one: `ave-eccv18-<regime>` for avatt, `psp-cvpr21-<regime>`,
            `cmbs-cvpr22-<regime>`) or a protocol name.
        seeds: a count N (seeds 0..N-1) or a list of distinct seeds.
        split: the split reported.
        resume: reuse finished run folders and continue interrupted ones
            instead of failing; each is first checked against this table's
            settings (`check_recorded_run`).
        output: a `.md` file for the table (a `.json` copy is written beside).
        title: the table's title.
        verbose: `fit` verbosity; nonzero also prints the progress (runs
            done / total, time per run, ETA).
        embedded_size: the embedded default's size when `data` is None.
        isolate_runs: train and evaluate each run in a fresh Python process
            (`keras_avl.fresh_process`), so that the process's memory stays
            flat over any number of runs and each run starts as its recorded
            `train_command` run alone; False: all in this process (faster to
            start; TensorFlow then keeps each run's traced graphs).
        model_config: config fields of every model, as `train`'s.
        **training_fields: `TrainingConfig` fields applied over `training`.

    Returns:
        A list of row dicts: regime, variant, seeds, epochs, a summary
        `{"mean", "std", "n", "values"}` for each of `METRICS` and `CHANCES`,
        `localization_note`, `per_seed` (each run's folder, best epoch,
        metrics and train/evaluate commands) and `command` (the `keras-avl
        compare` command that reproduces the row).

    Example:

    >>> import os, tempfile
    >>> os.environ["KERAS_AVL_HOME"] = tempfile.mkdtemp()
    >>> rows = compare(tempfile.mkdtemp(), models=["audio"], epochs=1, verbose=0,
    ...                embedded_size="tiny", seeds=2,
    ...                model_config=dict(hidden=8, swab_units=8))
    >>> [(row["regime"], row["variant"], row["seeds"]) for row in rows]
    [('supervised', 'audio', [0, 1])]
    >>> rows[0]["segment_accuracy"]["n"], rows[0]["ciou"]["mean"]
    (2, None)
    """
    training = requested_training(training, training_fields)
    embedded_size = embedded_size or "small"
    seeds = resolve_seeds(seeds, training.seed)
    runs_dir = Path(runs_dir)
    for regime in regimes:
        check_choice("regime", regime, REGIMES)
    for model in models:
        check_choice("model", model, model_names())
    rows = []
    progress = _Progress(len(regimes) * len(models) * len(seeds), verbose)
    for regime in regimes:
        for model in models:
            arguments = dict(regime=regime, model=model, data=data, training=training,
                             model_config=model_config or {}, embedded_size=embedded_size)
            per_seed = []
            for seed in seeds:
                run_dir = runs_dir / f"{regime}-{model}" / f"seed{seed}"
                started = time.monotonic()
                try:
                    run_training, chosen = _run_training(training, model, regime, seed)
                    result, recorded, trained = _train_run(
                        run_dir, {**arguments, "training": run_training}, resume, verbose,
                        split, isolate_runs)
                except ValueError as error:
                    if regime == "unsupervised" and not run_dir.exists():
                        print(f"Skipped {regime}/{model}: {error}")
                        progress.total -= len(seeds)
                        break
                    raise
                progress.report(f"{regime}-{model} seed {seed}",
                                time.monotonic() - started, trained)
                per_seed.append({
                    "seed": seed,
                    "run_dir": str(run_dir),
                    "best_epoch": _metrics(run_dir).get("best_epoch"),
                    **{key: result[key] for key in _PER_RUN},
                    "train_command": train_command(
                        run_dir, regime, model, data,
                        run_training.replace(
                            protocol=chosen, jit_compile=recorded.jit_compile,
                            batch_size=training.batch_size,
                            learning_rate=training.learning_rate),
                        model_config, embedded_size),
                    "evaluate_command": shlex.join(
                        ["keras-avl", "evaluate", str(run_dir), "--split", split]),
                })
            if per_seed:
                rows.append(_row(runs_dir, arguments, seeds, split, per_seed, recorded))
    if output is not None:
        _write_table(output, rows, title)
    return rows
