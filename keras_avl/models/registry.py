"""The registry: every method of keras-avl (`METHODS`) and every name a user
picks a model by (`presets()`, `get`), so that `train`, `evaluate`, `compare`
and the Python API handle every model alike.

A **method** (`Method`) is one module of `keras_avl.models`: its config class
(a `MethodConfig`), its builder per regime, the paper it follows, the config
values its release uses in a regime and what its weak model trains on:

- `paper`: the paper's model (`paper.py`, `PaperConfig`), three regimes;
- `avatt`: A+V-att (`avatt.py`, `AVAttConfig`);
- `avsdn`, `psp`, `cmbs`, `cace`: the other methods of the AVE benchmark;
- `ezvsl`: the contrastive baseline (`contrastive.py`, `EZVSLConfig`),
  unsupervised only.

A **preset** (`keras_avl.models.presets.Preset`) is a name for a method with
config changes and a default recipe: the rows of the paper's Tables 1-3,
`paper-plus`, `avatt-adam`, ... (`keras_avl.models.presets.PRESETS`); every
method is also the preset of its own name. Adding a method is its module and
one line of `METHODS`.

Models of several outputs (PSP, CMBS, CACE-Net) train every output on the same
labels (each loss reads what it needs from them): `fit_targets` repeats the
labels per output (zeroed at padded segments), and `monitored_metric` names the
accuracy of the regime's main output.
"""

import dataclasses
import difflib

from keras_avl.models.avatt import AVAttConfig, build_avatt_supervised, build_avatt_weak
from keras_avl.models.avsdn import AVSDNConfig, build_avsdn_supervised, build_avsdn_weak
from keras_avl.models.cace import CACEConfig, build_cace_supervised
from keras_avl.models.cmbs import REGIME_DEFAULTS as CMBS_REGIME_DEFAULTS
from keras_avl.models.cmbs import CMBSConfig, build_cmbs_supervised, build_cmbs_weak
from keras_avl.models.contrastive import EZVSLConfig, build_contrastive
from keras_avl.models.paper import (
    build_paper_supervised,
    build_paper_unsupervised,
    build_paper_weak,
)
from keras_avl.models.paper_config import PaperConfig
from keras_avl.models.presets import PRESETS, Preset
from keras_avl.models.psp import REGIME_DEFAULTS as PSP_REGIME_DEFAULTS
from keras_avl.models.psp import PSPConfig, build_psp_supervised, build_psp_weak
from keras_avl.regimes import REGIMES

# The output whose accuracy selects the epoch, per regime.
MAIN_OUTPUTS = {"supervised": "segment_probabilities", "weak": "video_probabilities"}


@dataclasses.dataclass(frozen=True)
class Method:
    """A registered method.

    Args:
        name: its registry name (also the name of its own preset,
            `keras-avl train --model NAME`).
        config_class: its config dataclass (a `MethodConfig` whose `method`
            is `name`).
        builders: regime -> `builder(config, compile=True, optimizer=None)`
            (and `loss=None` when `protocol_loss`).
        reference: the paper it follows.
        regime_defaults: regime -> the fields whose released value in that
            regime differs from the config class's defaults (PSP's weak tau,
            CMBS's weak alpha and gamma): `config(regime=...)` applies them, so
            that `train`, `compare` and the Python API build the released model
            of each regime alike.
        weak_targets: what its weak model trains on (`make_dataset`'s
            `weak_targets`): `"video"` labels, or PSP's `"class-shares"`
            (each class's share of the video's segments, its release's
            `prob_label.h5`).
        protocol_loss: whether a training protocol's loss may replace its own
            (the one-output classifiers of the paper's model and A+V-att,
            which AVE-ECCV18's recipe trains).

    Example:

    >>> METHODS["psp"].config(regime="weak").threshold, METHODS["psp"].regimes
    (0.095, ('supervised', 'weak'))
    """

    name: str
    config_class: type
    builders: dict
    reference: str
    regime_defaults: dict = dataclasses.field(default_factory=dict)
    weak_targets: str = "video"
    protocol_loss: bool = False

    @property
    def method(self):
        return self.name

    @property
    def regimes(self):
        return tuple(self.builders)

    def check_regime(self, regime):
        if regime not in REGIMES:
            raise ValueError(f"`regime` must be one of {REGIMES}; received regime={regime!r}.")
        if regime not in self.builders:
            raise ValueError(
                f"Method {self.name!r} supports the regimes {self.regimes}; "
                f"received regime={regime!r}."
            )

    def config(self, regime="supervised", **fields):
        """The method's config for `regime` (its released values there) with
        `fields` changed; a field the config lacks is a clear error (naming
        the methods that have it)."""
        self.check_regime(regime)
        fields = {**self.regime_defaults.get(regime, {}), **fields}
        known = {field.name for field in dataclasses.fields(self.config_class)}
        unknown = sorted(set(fields) - known)
        if unknown:
            owners = sorted(name for name, method in METHODS.items()
                            if set(unknown) & {f.name for f in dataclasses.fields(method.config_class)})
            hint = f" ({unknown} belong to the methods {owners})" if owners else ""
            raise ValueError(
                f"Method {self.name!r} has no config field(s) {unknown}{hint}; the fields "
                f"of {self.config_class.__name__} are {sorted(known)}."
            )
        return self.config_class().replace(**fields)

    def build(self, config=None, regime="supervised", compile=True, optimizer=None,
              loss=None):
        """Builds the model of `regime` from `config` (default: `config(regime)`);
        `optimizer` and `loss` come from a training protocol
        (`keras_avl.protocols`). A regime the method lacks, a config of
        another method or a loss it does not take is a clear error."""
        self.check_regime(regime)
        config = self.config(regime) if config is None else config
        if not isinstance(config, self.config_class):
            raise ValueError(
                f"Method {self.name!r} builds a {self.config_class.__name__}; received a "
                f"{type(config).__name__} (of the method {getattr(config, 'method', None)!r})."
            )
        if regime == "unsupervised" and (optimizer is not None or loss is not None):
            raise ValueError(
                "The unsupervised regime trains with its own loss and Adam; a training "
                "protocol's optimizer or loss applies to the supervised and weak "
                "regimes only."
            )
        extras = {"optimizer": optimizer} if optimizer is not None else {}
        if loss is not None:
            if not self.protocol_loss:
                raise ValueError(
                    "A protocol's loss replaces the classifier loss of the paper's model "
                    f"and A+V-att; the method {self.name!r} trains with its own losses."
                )
            extras["loss"] = loss
        return self.builders[regime](config, compile=compile, **extras)


METHODS = {
    method.name: method
    for method in (
        Method("paper", PaperConfig,
               {"supervised": build_paper_supervised, "weak": build_paper_weak,
                "unsupervised": build_paper_unsupervised},
               "Ramaswamy & Das, WACV 2020", protocol_loss=True),
        Method("avatt", AVAttConfig,
               {"supervised": build_avatt_supervised, "weak": build_avatt_weak},
               "Tian et al., ECCV 2018", protocol_loss=True),
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
        Method("ezvsl", EZVSLConfig, {"unsupervised": build_contrastive},
               "Mo & Morgado, ECCV 2022 (EZ-VSL style)"),
    )
}


def _all_presets():
    """`PRESETS` (in their order), then the preset of each method not named there."""
    own = {name: Preset(name, name, description=f"{method.reference}, as released")
           for name, method in METHODS.items() if name not in PRESETS}
    return {**PRESETS, **own}


def presets():
    """Every preset by name, as `keras-avl train --model` accepts them.

    Example:

    >>> names = presets()
    >>> names["fusion-mfb"].method, names["fusion-mfb"].changes, names["psp"].method
    ('paper', {'fusion': 'mfb'}, 'psp')
    """
    return _all_presets()


def model_names():
    """Every name `train --model` accepts (the presets')."""
    return tuple(_all_presets())


def get(name):
    """The preset `name` (every method is the preset of its own name); an
    unknown name is a clear error with the closest names.

    Example:

    >>> get("psp").regimes, get("paper-plus").method, get("avatt").recipe
    (('supervised', 'weak'), 'paper', 'ave-eccv18')
    >>> get("paper-pls")
    Traceback (most recent call last):
    ...
    ValueError: Unknown model 'paper-pls' (closest: ['paper-plus', 'paper', 'paper-segment']); `keras-avl models` lists the presets.
    """
    known = _all_presets()
    if name not in known:
        close = difflib.get_close_matches(str(name), list(known), n=3)
        raise ValueError(
            f"Unknown model {name!r}" + (f" (closest: {close})" if close else "")
            + "; `keras-avl models` lists the presets."
        )
    return known[name]


def get_method(name):
    """The `Method` registered as `name` (a clear error otherwise)."""
    if name not in METHODS:
        raise ValueError(f"Unknown method {name!r}; the registered methods are {sorted(METHODS)}.")
    return METHODS[name]


def weak_targets(name):
    """The weak training targets of model `name` (a preset).

    Example:

    >>> weak_targets("psp"), weak_targets("paper-plus")
    ('class-shares', 'video')
    """
    return get(name).weak_targets


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
