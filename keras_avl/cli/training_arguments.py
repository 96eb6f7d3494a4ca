"""The options of `keras-avl train`, `compare` and `tune` that describe the
data, the model's config (`--set`) and the training recipe: one
`keras_avl.training_config.TrainingConfig` built from the flags
(`training_fields`, `training_config`), or read whole from a JSON file
(`--training-config`) with the flags applied on top."""

import argparse
import json
from pathlib import Path

# TrainingConfig field -> its flag's argparse keywords. Every default is None:
# the TrainingConfig's (a new run) or the recorded value (train --resume).
_FLAGS = {
    "epochs": dict(type=int, help="training epochs (default: the --protocol's, else "
                   "keras_avl.training.DEFAULT_EPOCHS, 15; tune: 5); with train --resume, "
                   "more epochs than recorded extend the run (finished or not)"),
    "batch_size": dict(type=int, help="videos per batch, the global batch when distributed "
                       "(default: the --protocol's, else 64)"),
    "learning_rate": dict(type=float, help="Adam's learning rate (default: the --protocol's, "
                          "else 1e-3)"),
    "seed": dict(type=int, help="default 0"),
    "selection": dict(choices=("val-loss", "audio-consistency"),
                      help="unsupervised regime: keep the epoch of lowest val loss (default) "
                      "or of the spatial attention most consistent over time with the "
                      "video's own sound on val (label-free; "
                      "keras_avl.training.audio_consistency)"),
    "protocol": dict(help="a named training recipe of keras_avl.protocols.PROTOCOLS "
                     "(e.g. cmbs-cvpr22-supervised; an unknown name lists them all, "
                     "keras-avl models names each preset's), or 'own': each model's own "
                     "recipe where it has one. It sets batch size, learning rate and schedule, loss, clipping "
                     "and epochs (unless --epochs); the epoch is still selected on val. "
                     "Default: the common keras-avl recipe (Adam, the model's own loss), or "
                     "the loss and schedule of the preset's default recipe (avatt: "
                     "AVE-ECCV18's) for the epochs given."),
    "mixed_precision": dict(action="store_true", default=None,
                            help="float16 on GPU / bfloat16 on CPU, delicate parts in float32"),
    "jit_compile": dict(choices=("auto", "on", "off"),
                        help="XLA-compile the train step (auto, the default: on JAX and on a "
                        "TensorFlow GPU, not on a CPU-only TensorFlow; whatever the run's "
                        "length); recorded in config.json and kept on --resume"),
    "steps_per_execution": dict(type=int, help="batches per call of the compiled train "
                                "step (default 1)"),
    "deterministic": dict(action=argparse.BooleanOptionalAction,
                          help="deterministic ops (TensorFlow op determinism, XLA's "
                          "deterministic GPU ops; the default): the run repeats exactly for "
                          "its seed and equals that seed's `compare` run; --no-deterministic "
                          "lets TensorFlow pick faster kernels"),
    "distribute": dict(choices=("none", "mirrored", "multiworker"),
                       help="data-parallel training: mirrored = all local devices "
                       "(tf.distribute.MirroredStrategy, or keras.distribution.DataParallel "
                       "on JAX); multiworker = tf.distribute.MultiWorkerMirroredStrategy, "
                       "cluster from TF_CONFIG; --batch-size is the global batch"),
}
ALL_FIELDS = tuple(_FLAGS)


def add_training_arguments(parser, fields=ALL_FIELDS):
    """Adds `--data`, `--embedded-size`, `--set`, `--training-config` and the
    flags of the `TrainingConfig` `fields` to `parser`."""
    parser.add_argument("--data", default=None,
                        help="dataset folder in the AVE release layout "
                        "(default: the embedded synthetic dataset)")
    parser.add_argument("--embedded-size", default=None, choices=("tiny", "small", "full"),
                        help="size of the embedded default dataset when --data is not "
                        "given (default small)")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="override a field of the model's config, e.g. --set hidden=64 "
                        "(repeatable)")
    parser.add_argument("--training-config", default=None, metavar="FILE",
                        help="a JSON file of TrainingConfig fields (keras_avl.training_config), "
                        "or a run's config.json (its recorded recipe); the flags apply on top")
    for field in fields:
        parser.add_argument("--" + field.replace("_", "-"), **{"default": None, **_FLAGS[field]})


def parse_overrides(items):
    """`["hidden=64", "fusion=mfb"]` -> `{"hidden": 64, "fusion": "mfb"}` (JSON
    values, plain strings otherwise)."""
    overrides = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--set expects FIELD=VALUE; received {item!r}.")
        try:
            overrides[key] = json.loads(text)
        except json.JSONDecodeError:
            overrides[key] = text
    return overrides


def training_fields(args):
    """The `TrainingConfig` fields that the flags give (those left out: not
    in the dict)."""
    fields = {field: getattr(args, field) for field in ALL_FIELDS
              if getattr(args, field, None) is not None}
    if "jit_compile" in fields:
        fields["jit_compile"] = {"on": True, "off": False}.get(fields["jit_compile"])
    return {field: value for field, value in fields.items() if value is not None}


def read_training_config(args):
    """The `TrainingConfig` of `--training-config` (None without it)."""
    from keras_avl.training_config import TrainingConfig

    if args.training_config is None:
        return None
    from keras_avl.runs import recorded_training

    path = Path(args.training_config)
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(values, dict) and "model_config" in values:  # a run's config.json
            return recorded_training(values, values.get("regime"))[0]
        return TrainingConfig.from_dict(values)
    except (OSError, ValueError, TypeError, KeyError) as error:
        raise ValueError(f"--training-config {path}: expected a JSON object of "
                         "TrainingConfig fields or a run's config.json "
                         f"({type(error).__name__}: {error}).") from error


def training_config(args):
    """The `TrainingConfig` of the flags (over `--training-config`)."""
    from keras_avl.training.train import requested_training

    return requested_training(read_training_config(args), training_fields(args))


def data_arguments(args):
    """`data`, `embedded_size` and `model_config` from the flags."""
    return dict(data=args.data, embedded_size=args.embedded_size,
                model_config=parse_overrides(args.set))
