"""The registry of methods: a name -> its config class and its builder per
regime, so that `train`, `evaluate` and `compare` handle every method alike.

Every method lives in its own module: the paper's model (`paper`) and A+V-att
(`avatt`), both built from an `AVLConfig` (the rows of the paper's Tables 1-3
and the A+V-att readings stay variants of it, `keras_avl.models.VARIANTS`,
which `train` builds through `build_model`), and the other methods of the AVE
benchmark (`avsdn`, `psp`, `cmbs`, `cace`), each with its own config dataclass
(a `MethodConfig`).

Models of several outputs (PSP, CMBS, CACE-Net) train every output on the same
labels (each loss reads what it needs from them): `fit_targets` repeats the
labels per output (zeroed at padded segments), and `monitored_metric` names the
accuracy of the regime's main output.
"""

import dataclasses

from keras_avl.models.avatt import build_avatt_supervised, build_avatt_weak
from keras_avl.models.avsdn import AVSDNConfig, build_avsdn_supervised, build_avsdn_weak
from keras_avl.models.builders import REGIMES, build_model
from keras_avl.models.cace import CACEConfig, build_cace_supervised
from keras_avl.models.cmbs import REGIME_DEFAULTS as CMBS_REGIME_DEFAULTS
from keras_avl.models.cmbs import CMBSConfig, build_cmbs_supervised, build_cmbs_weak
from keras_avl.models.config import AVLConfig
from keras_avl.models.paper import (
    build_paper_supervised,
    build_paper_unsupervised,
    build_paper_weak,
)
from keras_avl.models.psp import REGIME_DEFAULTS as PSP_REGIME_DEFAULTS
from keras_avl.models.psp import PSPConfig, build_psp_supervised, build_psp_weak
from keras_avl.models.variants import VARIANTS

# The output whose accuracy selects the epoch, per regime.
MAIN_OUTPUTS = {"supervised": "segment_probabilities", "weak": "video_probabilities"}


@dataclasses.dataclass(frozen=True)
class Method:
    """A registered method.

    Args:
        name: its registry name (`keras-avl train --model NAME`).
        config_class: its config dataclass (a `MethodConfig`, or `AVLConfig`).
        builders: regime -> `builder(config, compile=True, optimizer=None)`.
        reference: the paper it follows.
        defaults: the fields of `config_class` that make it this method (A+V-att:
            those of the variant `avatt`).
        regime_defaults: regime -> the fields whose released value in that
            regime differs from `defaults` (PSP's weak tau, CMBS's weak
            alpha and gamma): `config(regime=...)` applies them, so that
            `train`, `compare` and the Python API build the released model of
            each regime alike.
        weak_targets: what its weak model trains on (`make_dataset`'s
            `weak_targets`): `"video"` labels, or PSP's `"class-shares"`
            (each class's share of the video's segments, its release's
            `prob_label.h5`).
    """

    name: str
    config_class: type
    builders: dict
    reference: str
    defaults: dict = dataclasses.field(default_factory=dict)
    regime_defaults: dict = dataclasses.field(default_factory=dict)
    weak_targets: str = "video"

    @property
    def regimes(self):
        return tuple(self.builders)

    def config(self, regime="supervised", **fields):
        """The method's config for `regime` (its released defaults there) with
        `fields` changed; a field the config lacks is a clear error.

        Example:

        >>> get("psp").config(regime="weak").threshold, get("psp").config().threshold
        (0.095, 0.099)
        """
        self.check_regime(regime)
        fields = {**self.defaults, **self.regime_defaults.get(regime, {}), **fields}
        known = {field.name for field in dataclasses.fields(self.config_class)}
        unknown = sorted(set(fields) - known)
        if unknown:
            raise ValueError(
                f"Method {self.name!r} has no config field(s) {unknown}; the fields of "
                f"{self.config_class.__name__} are {sorted(known)}."
            )
        return self.config_class().replace(**fields)

    def build(self, config=None, regime="supervised", compile=True, optimizer=None):
        """Builds the model of `regime`; a regime the method lacks is a clear error.

        Example:

        >>> config = get("paper").config(num_classes=3, visual_dim=8, embed_dim=8,
        ...                              mfb_output_dim=4, hidden=4, swab_units=4)
        >>> get("paper").build(config, "weak").output_shape
        (None, 3)
        """
        self.check_regime(regime)
        return self.builders[regime](config or self.config(regime), compile=compile,
                                     optimizer=optimizer)

    def check_regime(self, regime):
        if regime not in self.builders:
            raise ValueError(
                f"Method {self.name!r} supports the regimes {self.regimes}; "
                f"received regime={regime!r}."
            )


METHODS = {
    method.name: method
    for method in (
        Method("paper", AVLConfig,
               {"supervised": build_paper_supervised, "weak": build_paper_weak,
                "unsupervised": build_paper_unsupervised},
               "Ramaswamy & Das, WACV 2020"),
        Method("avatt", AVLConfig,
               {"supervised": build_avatt_supervised, "weak": build_avatt_weak},
               "Tian et al., ECCV 2018", defaults=VARIANTS["avatt"]),
        Method("avsdn", AVSDNConfig,
               {"supervised": build_avsdn_supervised, "weak": build_avsdn_weak},
               "Lin, Li & Wang, ICASSP 2019"),
        Method("psp", PSPConfig,
               {"supervised": build_psp_supervised, "weak": build_psp_weak},
               "Zhou et al., CVPR 2021", regime_defaults=PSP_REGIME_DEFAULTS,
               weak_targets="class-shares"),
        Method("cmbs", CMBSConfig,
               {"supervised": build_cmbs_supervised, "weak": build_cmbs_weak},
               "Xia & Zhao, CVPR 2022", regime_defaults=CMBS_REGIME_DEFAULTS),
        Method("cace", CACEConfig, {"supervised": build_cace_supervised},
               "He, Liu, Li et al., ACM MM 2024"),
    )
}


def model_names():
    """Every name `train --model` accepts: the paper's variants (`paper` and
    `avatt` among them), then the other methods."""
    return tuple(VARIANTS) + tuple(name for name in METHODS if name not in VARIANTS)


def get(name):
    """The `Method` registered as `name`.

    Example:

    >>> get("psp").regimes, get("paper").regimes
    (('supervised', 'weak'), ('supervised', 'weak', 'unsupervised'))
    """
    if name not in METHODS:
        hint = (f" ({name!r} is a variant of the paper's model, built from an "
                "`AVLConfig` by `variant_config` and `build_model`)") if name in VARIANTS else ""
        raise ValueError(
            f"Unknown method {name!r}{hint}; the registered methods are "
            f"{sorted(METHODS)}, and the paper's variants {sorted(VARIANTS)}."
        )
    return METHODS[name]


def weak_targets(name):
    """The weak training targets of model `name` (a method or a variant).

    Example:

    >>> weak_targets("psp"), weak_targets("paper-plus")
    ('class-shares', 'video')
    """
    return METHODS[name].weak_targets if name in METHODS else "video"


def config_class(method):
    """The config class of a run's `method` (None: the paper's `AVLConfig`)."""
    return AVLConfig if method is None else get(method).config_class


def method_config(name, base_fields, overrides, regime="supervised"):
    """The config of model `name` (a variant or a method) in `regime` from the
    data's fields and the user's overrides (which win over the regime's
    defaults); None when `name` is a variant (see `variant_config`)."""
    if name in VARIANTS:
        return None
    return get(name).config(regime, **{**base_fields, **overrides})


def build(config, regime, compile=True, optimizer=None, loss=None):
    """Builds `regime`'s model of any config: an `AVLConfig` through
    `build_model`, a method's config through its builder. `optimizer` and
    `loss` come from a training protocol (`keras_avl.protocols`); a
    method keeps its own losses."""
    if isinstance(config, AVLConfig):
        return build_model(config, regime, compile=compile, optimizer=optimizer, loss=loss)
    if loss is not None:
        raise ValueError(
            "A protocol's loss replaces the classifier loss of the models built from "
            f"an AVLConfig; the method {config.method!r} trains with its own losses."
        )
    if regime not in REGIMES:
        raise ValueError(f"`regime` must be one of {REGIMES}; received regime={regime!r}.")
    return get(config.method).build(config, regime, compile=compile, optimizer=optimizer)


def real_segment_labels(x, y):
    """The labels `y` with all-zero rows at the padded segments of `x`'s
    `segment_mask` (segment labels (B, T, C) only; video labels are returned
    as they are). Plain arithmetic: it runs on NumPy arrays and in `tf.data`."""
    mask = x.get("segment_mask") if isinstance(x, dict) else None
    if mask is None or len(y.shape) != 3:
        return y
    return y * mask[:, :, None]


def fit_targets(model):
    """A `(x, y) -> (x, targets)` map giving every output of a several-output
    model the same labels, zeroed at the padded segments
    (`real_segment_labels`: the losses of PSP and CMBS read the real segments
    from them); None for a model of one output."""
    names = tuple(model.output_names)
    if len(names) == 1:
        return None

    def targets(x, y):
        y = real_segment_labels(x, y)
        return x, {name: y for name in names}

    return targets


def monitored_metric(model, regime, metric):
    """The name Keras logs `metric` (e.g. `val_categorical_accuracy`) under for
    `model`: prefixed with the regime's main output when it has several."""
    if len(model.output_names) == 1 or regime not in MAIN_OUTPUTS:
        return metric
    prefix = "val_" if metric.startswith("val_") else ""
    return f"{prefix}{MAIN_OUTPUTS[regime]}_{metric[len(prefix):]}"
