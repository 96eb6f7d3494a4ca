"""`TrainingConfig`: a training recipe as data.

One frozen dataclass holds everything `keras_avl.training.train` needs to
train a model besides the model and the data (as Hugging Face's
`TrainingArguments`): the epochs, the batch size, Adam's learning rate and its
schedule, the loss, the gradient clipping, the dtype policy, the protocol it
comes from, the unsupervised epoch selection, the precision, XLA, determinism,
the seed and the distribution. `train`, `compare` and `tune` take it; a run
folder records it whole (`config.json`, `training`) and a resumed run reads it
back from there. The named recipes of the public codes (`keras_avl.protocols`)
are `TrainingConfig`s too.

`epochs`, `batch_size` and `learning_rate` may be left None: the protocol's,
else 15 (`DEFAULT_EPOCHS`), 64 and 1e-3 (AVE's); `train` records the values it
trained with.

Example:

>>> config = TrainingConfig(epochs=2, batch_size=8, decay_epochs=(1,), decay=0.5)
>>> TrainingConfig.from_dict(config.to_dict()) == config
True
>>> config.replace(seed=3).seed, config.with_defaults().learning_rate
(3, 0.001)
>>> TrainingConfig(batch_size=0)
Traceback (most recent call last):
...
ValueError: `batch_size` must be a positive integer; received batch_size=0.
"""

import dataclasses
import numbers

from keras_avl.validation import check_choice, check_positive_int

DEFAULT_EPOCHS = 15
DEFAULT_BATCH_SIZE = 64
DEFAULT_LEARNING_RATE = 1e-3
# `loss` values: None keeps the model's own loss.
LOSSES = (None, "multilabel-soft-margin")
# `selection` values (`keras_avl.training.audio_consistency`).
SELECTIONS = ("val-loss", "audio-consistency")
# `dtype_policy` values besides None (`keras_avl.precision.PROTOCOL_POLICIES`).
DTYPE_POLICIES = ("float64",)
# The fields a protocol sets besides the epochs, the batch size and the rate.
SCHEDULE_FIELDS = ("decay_epochs", "decay", "step_lr", "clipnorm", "loss", "dtype_policy")


@dataclasses.dataclass(frozen=True)
class TrainingConfig:
    """A training recipe.

    Args:
        epochs: total epochs (None: the protocol's, else `DEFAULT_EPOCHS`).
        batch_size: videos per batch, the global batch when distributed
            (None: the protocol's, else 64).
        learning_rate: Adam's learning rate (None: the protocol's, else 1e-3).
        decay_epochs: epochs after which the learning rate is multiplied by
            `decay` (a step schedule; empty: none).
        decay: the factor of each step.
        step_lr: `(step_size, gamma)`: PyTorch's StepLR stepped once per
            batch (`keras_avl.models.step_lr.StepLR`), or None.
        loss: None (the model's own loss) or `"multilabel-soft-margin"`
            (`keras_avl.losses.multilabel_soft_margin_loss` on the model's
            softmax outputs, for the classifiers of `AVLConfig`).
        clipnorm: the global gradient-norm clip, or None.
        dtype_policy: None (float32, or the mixed policy) or `"float64"`
            (`keras_avl.precision.precision_policy(policy=...)`).
        protocol: the protocol the recipe comes from (`keras_avl.protocols`),
            or None. Given to `train`: a name (that recipe), `"own"` (the
            model's own recipe) or None (the common recipe, or the loss and
            schedule of the model's default protocol); see
            `keras_avl.protocols.resolve_training`.
        selection: how the unsupervised regime selects its epoch on val:
            `"val-loss"` or `"audio-consistency"`.
        seed: seeds the weights, the shuffling and the negative audio.
        deterministic: deterministic ops (`keras_avl.determinism`).
        mixed_precision: float16 on GPU / bfloat16 on CPU
            (`keras_avl.precision`).
        jit_compile: compile the train step with XLA (None: decided by
            `keras_avl.training.train_step.resolve_jit_compile`).
        steps_per_execution: batches per call of the compiled train step.
        steps_per_epoch, validation_steps: limit the batches per epoch
            (None: every video of the split).
        distribute: `"none"`, `"mirrored"` or `"multiworker"`
            (`keras_avl.distribute`).
    """

    epochs: int = None
    batch_size: int = None
    learning_rate: float = None
    decay_epochs: tuple = ()
    decay: float = 1.0
    step_lr: tuple = None
    loss: str = None
    clipnorm: float = None
    dtype_policy: str = None
    protocol: str = None
    selection: str = SELECTIONS[0]
    seed: int = 0
    deterministic: bool = True
    mixed_precision: bool = False
    jit_compile: bool = None
    steps_per_execution: int = 1
    steps_per_epoch: int = None
    validation_steps: int = None
    distribute: str = "none"

    def __post_init__(self):
        for name, value in _checked(self).items():
            object.__setattr__(self, name, value)

    def replace(self, **changes):
        """A copy with `changes` (field names; a clear error for others)."""
        check_fields(changes)
        return dataclasses.replace(self, **changes)

    def to_dict(self):
        """The fields as JSON-ready values (`from_dict` reads them back)."""
        return {name: list(value) if isinstance(value, tuple) else value
                for name, value in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, values):
        """The config of `to_dict`'s dict (missing fields: the defaults)."""
        check_fields(values)
        return cls(**values)

    def changes(self):
        """The fields that differ from the defaults, by name."""
        return {field.name: getattr(self, field.name) for field in dataclasses.fields(self)
                if getattr(self, field.name) != field.default}

    def with_defaults(self):
        """The config with the epochs, batch size and learning rate left None
        set to the common keras-avl values (15, 64, 1e-3)."""
        defaults = dict(epochs=DEFAULT_EPOCHS, batch_size=DEFAULT_BATCH_SIZE,
                        learning_rate=DEFAULT_LEARNING_RATE)
        return self.replace(**{name: value for name, value in defaults.items()
                               if getattr(self, name) is None})

    def optimizer(self, steps_per_epoch):
        """Adam with the recipe's rate, schedule (counted in optimizer steps)
        and clip.

        Example:

        >>> TrainingConfig(learning_rate=0.01, clipnorm=0.5).optimizer(10).global_clipnorm
        0.5
        """
        import keras

        from keras_avl.models.step_lr import StepLR

        steps_per_epoch = check_positive_int("steps_per_epoch", steps_per_epoch)
        base = self.with_defaults().learning_rate
        rate = base
        if self.decay_epochs:
            # Update number n (from 0) of epoch e uses the rate of e: the
            # schedule keeps values[i] while step <= boundaries[i].
            rate = keras.optimizers.schedules.PiecewiseConstantDecay(
                [epoch * steps_per_epoch - 1 for epoch in self.decay_epochs],
                [base * self.decay ** i for i in range(len(self.decay_epochs) + 1)],
            )
        elif self.step_lr is not None:
            rate = StepLR(base, *self.step_lr)
        return keras.optimizers.Adam(rate, global_clipnorm=self.clipnorm)

    def loss_function(self):
        """The loss that replaces the model's own, or None."""
        if self.loss is None:
            return None
        from keras_avl.losses import multilabel_soft_margin_loss

        return multilabel_soft_margin_loss


FIELDS = tuple(field.name for field in dataclasses.fields(TrainingConfig))


def check_fields(values, hint=""):
    """A clear ValueError naming the keys of `values` that are no
    `TrainingConfig` field (with `hint` appended)."""
    unknown = sorted(set(values) - set(FIELDS))
    if unknown:
        raise ValueError(f"{unknown} {'is' if len(unknown) == 1 else 'are'} not "
                         f"TrainingConfig field(s); expected some of {list(FIELDS)}.{hint}")


def _optional(check, name, value):
    return None if value is None else check(name, value)


def _positive_number(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
        raise ValueError(f"`{name}` must be a positive number; received {name}={value!r}.")
    return float(value)


def _flag(name, value):
    if not isinstance(value, bool):
        raise ValueError(f"`{name}` must be True or False; received {name}={value!r}.")
    return value


def _check_schedule(config):
    decay_epochs = tuple(check_positive_int("decay_epochs", epoch)
                         for epoch in config.decay_epochs)
    if list(decay_epochs) != sorted(set(decay_epochs)):
        raise ValueError("`decay_epochs` must be increasing epochs; received "
                         f"decay_epochs={config.decay_epochs!r}.")
    step_lr = config.step_lr
    if step_lr is not None:
        if len(step_lr) != 2:
            raise ValueError("`step_lr` must be (step_size, gamma) or None; received "
                             f"step_lr={step_lr!r}.")
        step_lr = (check_positive_int("step_lr's step_size", step_lr[0]),
                   _positive_number("step_lr's gamma", step_lr[1]))
        if decay_epochs:
            raise ValueError("Give either `decay_epochs` or `step_lr`, not both; received "
                             f"decay_epochs={decay_epochs!r}, step_lr={step_lr!r}.")
    return dict(decay_epochs=decay_epochs, decay=_positive_number("decay", config.decay),
                step_lr=step_lr)


def _checked(config):
    """The fields of `config`, checked and normalised (JSON lists to tuples,
    numbers to their types)."""
    from keras_avl.distribute import DISTRIBUTIONS

    check_choice("loss", config.loss, LOSSES)
    check_choice("selection", config.selection, SELECTIONS)
    check_choice("distribute", config.distribute, DISTRIBUTIONS)
    check_choice("dtype_policy", config.dtype_policy, (None, *DTYPE_POLICIES))
    if config.jit_compile is not None:
        _flag("jit_compile", config.jit_compile)
    if config.protocol is not None and not isinstance(config.protocol, str):
        raise ValueError("`protocol` must be a protocol name, 'own' or None; received "
                         f"protocol={config.protocol!r}.")
    if isinstance(config.seed, bool) or not isinstance(config.seed, numbers.Integral):
        raise ValueError(f"`seed` must be an integer; received seed={config.seed!r}.")
    return dict(
        epochs=_optional(check_positive_int, "epochs", config.epochs),
        batch_size=_optional(check_positive_int, "batch_size", config.batch_size),
        learning_rate=_optional(_positive_number, "learning_rate", config.learning_rate),
        **_check_schedule(config),
        clipnorm=_optional(_positive_number, "clipnorm", config.clipnorm),
        seed=int(config.seed),
        deterministic=_flag("deterministic", config.deterministic),
        mixed_precision=_flag("mixed_precision", config.mixed_precision),
        steps_per_execution=check_positive_int("steps_per_execution",
                                               config.steps_per_execution),
        steps_per_epoch=_optional(check_positive_int, "steps_per_epoch", config.steps_per_epoch),
        validation_steps=_optional(check_positive_int, "validation_steps",
                                   config.validation_steps),
    )
