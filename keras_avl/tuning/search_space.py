"""The hyperparameter search space over `AVLConfig`.

A search space maps `AVLConfig` field names to what a tuner may try, in a
JSON-friendly form:

- a list: the values to choose from (`keras_tuner` `Choice`);
- a dict `{"min": a, "max": b}` with optional `"step"` and `"sampling"`
  (`"linear"` or `"log"`): a range (`Int` for integer fields, `Float` for
  real ones).

Tunable fields (`TUNABLE`): MFB's factor q and output size p (eq. 3), AVFB's
embedding size (eq. 1) and fusion (Table 2), the temporal LSTMs' size (eq. 8),
SWAB's units and pooling (eqs. 9-10, Table 3), the classifier's dropout, Adam's
learning rate and, for the unsupervised regime only, the AVTGML margin
(eq. 16).
"""

import copy
import dataclasses

from keras_avl.layers.avfb_layer import FUSIONS
from keras_avl.layers.swab_layer import POOLINGS
from keras_avl.models import REGIMES, AVLConfig
from keras_avl.validation import check_choice

DEFAULT_SEARCH_SPACE = {
    "mfb_factor": [2, 3, 5],
    "mfb_output_dim": [64, 128, 256],
    "embed_dim": [128, 256, 512],
    "hidden": [64, 128, 256],
    "swab_units": [64, 128, 256],
    "swab_pooling": list(POOLINGS),
    "fusion": list(FUSIONS),
    "dropout": {"min": 0.0, "max": 0.5, "step": 0.1},
    "learning_rate": {"min": 1e-4, "max": 1e-2, "sampling": "log"},
    "margin": {"min": 0.1, "max": 1.5, "step": 0.1},
}
TUNABLE = tuple(DEFAULT_SEARCH_SPACE)
# The margin only enters the loss of the unsupervised regime.
UNSUPERVISED_ONLY = ("margin",)
SAMPLINGS = ("linear", "log")
RANGE_KEYS = ("min", "max", "step", "sampling")


def default_search_space(regime):
    """The default search space of `regime` (a fresh copy).

    Example:

    >>> "margin" in default_search_space("unsupervised")
    True
    >>> "margin" in default_search_space("supervised")
    False
    """
    check_choice("regime", regime, REGIMES)
    return {
        name: copy.deepcopy(spec)
        for name, spec in DEFAULT_SEARCH_SPACE.items()
        if regime == "unsupervised" or name not in UNSUPERVISED_ONLY
    }


def _field_kind(name):
    default = {field.name: field.default for field in dataclasses.fields(AVLConfig)}[name]
    return type(default)


def _check_value(base_config, name, value):
    """Raises unless `AVLConfig` accepts `value` for `name`."""
    kind = _field_kind(name)
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ValueError(
            f"Search space: `{name}` takes integers; received {value!r}."
        )
    if kind is float and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise ValueError(f"Search space: `{name}` takes numbers; received {value!r}.")
    try:
        base_config.replace(**{name: value})
    except ValueError as error:
        raise ValueError(f"Search space: {name}={value!r} is out of range: {error}") from error


def _check_range(base_config, name, spec):
    if _field_kind(name) not in (int, float):
        raise ValueError(
            f"Search space: `{name}` takes a list of choices, not a range; "
            f"received {spec!r}."
        )
    unknown = sorted(set(spec) - set(RANGE_KEYS))
    if unknown or "min" not in spec or "max" not in spec:
        raise ValueError(
            f"Search space: the range of `{name}` must be a dict with `min` and "
            f"`max` and optional `step`, `sampling`; received {spec!r}."
        )
    low, high = spec["min"], spec["max"]
    _check_value(base_config, name, low)
    _check_value(base_config, name, high)
    if not low < high:
        raise ValueError(
            f"Search space: the range of `{name}` needs min < max; received "
            f"min={low!r}, max={high!r}."
        )
    sampling = check_choice(f"{name}.sampling", spec.get("sampling", "linear"), SAMPLINGS)
    if sampling == "log" and not low > 0:
        raise ValueError(
            f"Search space: log sampling of `{name}` needs min > 0; received min={low!r}."
        )
    step = spec.get("step")
    if step is not None and (isinstance(step, bool) or not step > 0):
        raise ValueError(f"Search space: the step of `{name}` must be > 0; received {step!r}.")


def validate_search_space(search_space, regime, base_config=None):
    """Checks every name and bound of `search_space`; returns a copy.

    Args:
        search_space: dict of `AVLConfig` field name -> list of choices or
            range dict (see the module docstring).
        regime: the regime the search trains (`margin` needs
            `"unsupervised"`).
        base_config: the `AVLConfig` the tuned values are applied to; the
            bounds are checked against it (default `AVLConfig()`).

    Raises:
        ValueError: naming the hyperparameter, what was expected and what was
            found: an unknown name, an empty list, a bound `AVLConfig` rejects
            (e.g. a dropout of 1.5 or a non-positive size), min >= max.

    Example:

    >>> validate_search_space({"hidden": [32, 64]}, "supervised")
    {'hidden': [32, 64]}
    >>> validate_search_space({"hiden": [32]}, "supervised")
    Traceback (most recent call last):
    ...
    ValueError: Unknown hyperparameter(s) ['hiden'] in the search space; expected some of ['dropout', 'embed_dim', 'fusion', 'hidden', 'learning_rate', 'margin', 'mfb_factor', 'mfb_output_dim', 'swab_pooling', 'swab_units'].
    """
    check_choice("regime", regime, REGIMES)
    base_config = base_config or AVLConfig()
    if not isinstance(search_space, dict) or not search_space:
        raise ValueError(
            "The search space must be a non-empty dict of hyperparameter name -> "
            f"list of choices or {{'min', 'max'}} range; received {search_space!r}."
        )
    unknown = sorted(set(search_space) - set(TUNABLE))
    if unknown:
        raise ValueError(
            f"Unknown hyperparameter(s) {unknown} in the search space; expected "
            f"some of {sorted(TUNABLE)}."
        )
    if regime != "unsupervised":
        misplaced = sorted(set(search_space) & set(UNSUPERVISED_ONLY))
        if misplaced:
            raise ValueError(
                f"Hyperparameter(s) {misplaced} only act in the unsupervised "
                f"regime (the AVTGML loss); remove them to tune regime={regime!r}."
            )
    for name, spec in search_space.items():
        if isinstance(spec, dict):
            _check_range(base_config, name, spec)
        elif isinstance(spec, (list, tuple)) and spec:
            for value in spec:
                _check_value(base_config, name, value)
        else:
            raise ValueError(
                f"Search space: `{name}` must be a non-empty list of choices or "
                f"a {{'min', 'max'}} range; received {spec!r}."
            )
    return copy.deepcopy(dict(search_space))


def declare(hp, name, spec):
    """Declares hyperparameter `name` with `spec` on a `keras_tuner`
    `HyperParameters` and returns its value for this trial."""
    if not isinstance(spec, dict):
        return hp.Choice(name, list(spec))
    kind = hp.Int if _field_kind(name) is int else hp.Float
    return kind(
        name,
        min_value=spec["min"],
        max_value=spec["max"],
        step=spec.get("step"),
        sampling=spec.get("sampling", "linear"),
    )
