"""The run folder: what `keras-avl train` writes and every other command reads.

A run folder holds `config.json` (the regime, the preset under `variant`, the
method under `method` and its config under `model_config`, the data folder,
the embedded dataset's size when it has none, and the whole training recipe
under `training`: a `keras_avl.training_config.TrainingConfig`'s dict),
`best.keras` (the best checkpoint), `metrics.json` and TensorBoard logs under
`logs/`.

`load_run` also reads the folders written before every method had its own
config: their `model_config` is one `AVLConfig` of 28 fields whose
`architecture` named the model (`legacy_model_config`). Run folders written
before the recipe was a `TrainingConfig` record in `training` the epochs,
batch size, rate and seed, the options given, the embedded size and the
protocol as a sub-dict (`protocol.name`, its schedule, loss, clipping and
dtype policy); they load into the same `TrainingConfig`
(`recorded_training`) and resume as before.
"""

import dataclasses
import json
from pathlib import Path

from keras_avl.atomic import atomic_write_text
from keras_avl.models import REGIMES, MethodConfig
from keras_avl.models.registry import get_method
from keras_avl.protocols import get_protocol
from keras_avl.training_config import SCHEDULE_FIELDS, TrainingConfig

CONFIG_FILE = "config.json"
BEST_MODEL_FILE = "best.keras"
METRICS_FILE = "metrics.json"
LOGS_DIR = "logs"


@dataclasses.dataclass
class Run:
    """What a run folder describes.

    Args:
        path: the run folder.
        regime: one of `keras_avl.models.REGIMES`.
        variant: the preset's name (`keras_avl.models.presets()`).
        model_config: the config the model was built from, a method's
            (`PaperConfig`, `AVAttConfig`, `PSPConfig`, ...).
        data: the dataset folder, or None for the embedded default.
        training: the `TrainingConfig` it trains with.
        embedded_size: the embedded default's size when `data` is None.
    """

    path: Path
    regime: str
    variant: str
    model_config: MethodConfig
    data: str = None
    training: TrainingConfig = dataclasses.field(default_factory=TrainingConfig)
    embedded_size: str = None

    def to_dict(self):
        return {
            "regime": self.regime,
            "variant": self.variant,
            "method": self.model_config.method,
            "model_config": self.model_config.to_dict(),
            "data": self.data,
            **({"embedded_size": self.embedded_size} if self.embedded_size else {}),
            "training": self.training.to_dict(),
        }

    def save_config(self):
        """Writes `config.json` atomically."""
        atomic_write_text(
            Path(self.path) / CONFIG_FILE, json.dumps(self.to_dict(), indent=2) + "\n"
        )

    @property
    def best_model_path(self):
        return Path(self.path) / BEST_MODEL_FILE

    def load_model(self):
        """Loads the best checkpoint `best.keras`."""
        import keras

        import keras_avl.layers  # noqa: F401  (registers the custom objects)
        import keras_avl.losses  # noqa: F401

        if not self.best_model_path.is_file():
            raise FileNotFoundError(
                f"Run folder {self.path} has no checkpoint {BEST_MODEL_FILE}: "
                "expected the best model written by `keras-avl train`."
            )
        return keras.saving.load_model(self.best_model_path)


def load_run(path):
    """Reads the run folder `path`; raises a clear error when it is not one."""
    path = Path(path)
    config_path = path / CONFIG_FILE
    if not config_path.is_file():
        raise FileNotFoundError(
            f"{path} is not a run folder: expected {config_path} written by "
            "`keras-avl train`."
        )
    try:
        data = json.loads(config_path.read_text(encoding="utf-8"))
        regime = data["regime"]
        training, embedded_size = recorded_training(data, regime)
        model_config = _model_config(data)
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{config_path} is not a valid run config: {error}") from error
    if regime not in REGIMES:
        raise ValueError(
            f"{config_path}: `regime` must be one of {REGIMES}; found {regime!r}."
        )
    return Run(
        path=path,
        regime=regime,
        variant=data.get("variant", "paper"),
        model_config=model_config,
        data=data.get("data"),
        training=training,
        embedded_size=data.get("embedded_size", embedded_size),
    )


# `architecture` of the configs written before each method had its own ->
# (method, fields that reading sets).
LEGACY_ARCHITECTURES = {
    "paper": ("paper", {}),
    "avatt": ("avatt", {"reading": "released"}),
    "avatt-keras-avl": ("avatt", {"reading": "keras-avl"}),
    "ezvsl": ("ezvsl", {}),
}


def _model_config(data):
    if "method" in data:
        return get_method(data["method"]).config_class.from_dict(data["model_config"])
    return legacy_model_config(data["model_config"])


def legacy_model_config(fields):
    """The config of a run written before each method had its own config:
    an `AVLConfig` dict whose `architecture` (default `"paper"`) names the
    model. It becomes the config of that method, with the fields it has (the
    others did not enter that model).

    Example:

    >>> config = legacy_model_config({"architecture": "avatt-keras-avl", "hidden": 64,
    ...                               "dropout": 0.2, "fusion": "avfb"})
    >>> type(config).__name__, config.reading, config.hidden, config.dropout
    ('AVAttConfig', 'keras-avl', 64, 0.2)
    """
    fields = dict(fields)
    architecture = fields.pop("architecture", "paper")
    if architecture not in LEGACY_ARCHITECTURES:
        raise ValueError(
            f"unknown architecture {architecture!r} (expected one of "
            f"{sorted(LEGACY_ARCHITECTURES)})"
        )
    # Configs written before the training protocol left the model's config.
    if fields.get("protocol", "keras-avl") != "keras-avl":
        raise ValueError(f"`protocol` is no model config field; found {fields['protocol']!r}")
    fields.pop("protocol", None)
    method, reading = LEGACY_ARCHITECTURES[architecture]
    config_class = get_method(method).config_class
    known = {field.name for field in dataclasses.fields(config_class)}
    return config_class.from_dict({**{key: value for key, value in fields.items()
                                      if key in known}, **reading})


def recorded_training(data, regime):
    """The `TrainingConfig` recorded in a run's `config.json` dict `data` and
    the embedded size recorded with it in the earlier format (or None).

    Today's runs record the config's dict. Earlier runs recorded the options
    given (`deterministic` only when on), the embedded size and the protocol as
    a sub-dict, whose schedule, loss, clipping and dtype policy the run
    trained with (its epochs, batch size and rate were the run's own); the
    earliest recorded `"protocol": "ave-eccv18"` in `model_config` instead
    (AVE-ECCV18's loss and StepLR, for the epochs recorded).

    Example:

    >>> training, size = recorded_training({"model_config": {}, "training": {
    ...     "epochs": 2, "batch_size": 8, "learning_rate": 0.001, "seed": 0,
    ...     "embedded_size": "tiny", "protocol": {"name": "psp-cvpr21-weak",
    ...     "decay_epochs": [80, 160], "decay": 0.8, "epochs": 300}}}, "weak")
    >>> training.protocol, training.decay_epochs, training.epochs, training.deterministic, size
    ('psp-cvpr21-weak', (80, 160), 2, False, 'tiny')
    """
    training = dict(data.get("training", {}))
    if "decay" in training:  # today's format: the whole TrainingConfig
        return TrainingConfig.from_dict(training), None
    embedded_size = training.pop("embedded_size", None)
    protocol = training.pop("protocol", None)
    if data["model_config"].get("protocol") == "ave-eccv18":
        data["model_config"] = {key: value for key, value in data["model_config"].items()
                                if key != "protocol"}
        if protocol is None:
            name = f"ave-eccv18-{regime}"
            protocol = {**get_protocol(name).training.to_dict(), "name": name}
    if protocol is not None:
        training.update({name: protocol[name] for name in SCHEDULE_FIELDS if name in protocol},
                        protocol=protocol["name"])
    training.setdefault("deterministic", False)
    return TrainingConfig.from_dict(training), embedded_size
