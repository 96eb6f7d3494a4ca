"""The run folder: what `keras-avl train` writes and every other command reads.

A run folder holds `config.json` (the regime, the variant, the `AVLConfig` (or,
for a registered method, its name under `method` and its own config), the data
folder and the training settings), `best.keras` (the best checkpoint),
`metrics.json` and TensorBoard logs under `logs/`.
"""

import dataclasses
import json
from pathlib import Path

from keras_avl.atomic import atomic_write_text
from keras_avl.models import REGIMES, AVLConfig
from keras_avl.models.registry import config_class
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
        variant: the model variant name (see `keras_avl.models.VARIANTS`).
        model_config: the config the model was built from: an `AVLConfig`, or
            a registered method's config (its `method` is then recorded).
        data: the dataset folder, or None for the embedded default.
        training: training settings (epochs, batch size, seed, ...).
    """

    path: Path
    regime: str
    variant: str
    model_config: AVLConfig
    data: str = None
    training: dict = dataclasses.field(default_factory=dict)

    def to_dict(self):
        method = getattr(self.model_config, "method", None)
        return {
            "regime": self.regime,
            "variant": self.variant,
            **({"method": method} if method is not None else {}),
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
        model_config = config_class(data.get("method")).from_dict(data["model_config"])
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
