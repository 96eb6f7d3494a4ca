"""`ConfigSerialization`: what every model config dataclass of keras-avl
(`MethodConfig`, the base of every method's config) does the same way: S, validated
copies, and the dict / JSON round trip that run folders store."""

import dataclasses
import json


class ConfigSerialization:
    """Mixin for a dataclass with a `grid` field (H, W).

    Example:

    >>> from keras_avl.models import PaperConfig
    >>> config = PaperConfig(hidden=64)
    >>> PaperConfig.from_json(config.to_json()) == config, config.regions
    (True, 49)
    """

    @property
    def regions(self):
        """S = H * W, the number of spatial regions."""
        return self.grid[0] * self.grid[1]

    @classmethod
    def _check_fields(cls, names):
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(names) - known)
        if unknown:
            raise ValueError(
                f"Unknown {cls.__name__} field(s) {unknown}; expected a subset of "
                f"{sorted(known)}."
            )

    def replace(self, **changes):
        """A copy with `changes` applied (validated like the constructor)."""
        self._check_fields(changes)
        return dataclasses.replace(self, **changes)

    def to_dict(self):
        config = dataclasses.asdict(self)
        config["grid"] = list(self.grid)
        return config

    @classmethod
    def from_dict(cls, config):
        cls._check_fields(config)
        return cls(**config)

    def to_json(self, indent=2):
        return json.dumps(self.to_dict(), indent=indent, sort_keys=True)

    @classmethod
    def from_json(cls, text):
        return cls.from_dict(json.loads(text))
