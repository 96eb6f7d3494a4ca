"""The run folder: what `keras-avl train` writes and every other command reads.

A run folder holds `config.json` (the regime, the preset under `variant`, the
method under `method` and its config under `model_config`, the data folder and
the training settings), `best.keras` (the best checkpoint), `metrics.json` and
TensorBoard logs under `logs/`.

`load_run` also reads the folders written before every method had its own
config: their `model_config` is one `AVLConfig` of 28 fields whose
`architecture` named the model (`legacy_model_config`).
"""

import dataclasses
import json
from pathlib import Path

from keras_avl.atomic import atomic_write_text
from keras_avl.models import REGIMES, MethodConfig
from keras_avl.models.registry import get_method
from keras_avl.protocols import get_protocol

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
        training: training settings (epochs, batch size, seed, ...).
    """

    path: Path
    regime: str
    variant: str
    model_config: MethodConfig
    data: str = None
    training: dict = dataclasses.field(default_factory=dict)

    def to_dict(self):
        return {
            "regime": self.regime,
            "variant": self.variant,
            "method": self.model_config.method,
            "model_config": self.model_config.to_dict(),
            "data": self.data,
            "training": self.training,
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
        training = _with_legacy_protocol(data, regime)
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


def _with_legacy_protocol(data, regime):
    """The run's training settings. Runs written before the training protocol
    left `AVLConfig` record `"protocol": "ave-eccv18"` in `model_config`
    (AVE-ECCV18's loss and StepLR, for the epochs recorded): it becomes the
    protocol `ave-eccv18-<regime>` of the training settings."""
    training = dict(data.get("training", {}))
    legacy = data["model_config"].get("protocol")
    if legacy == "ave-eccv18":
        data["model_config"] = {key: value for key, value in data["model_config"].items()
                                if key != "protocol"}
        training.setdefault("protocol", get_protocol(f"ave-eccv18-{regime}").to_dict())
    return training
