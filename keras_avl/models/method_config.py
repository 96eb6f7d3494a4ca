"""`MethodConfig`: the base of every method's config dataclass (`PaperConfig`,
`AVAttConfig`, `EZVSLConfig`, `AVSDNConfig`, `PSPConfig`, `CMBSConfig`), each
in its method's module.

It holds what the data fixes (the fields `AVEData.model_config_kwargs` fills)
and the learning rate, and validates them; a method's config adds its own
knobs (and the names of those to check as positive integers, `positive_ints`,
and as rates, `rates`). The class attribute `method` names the registered
method (`keras_avl.models.registry.METHODS`), which builds it.
"""

import dataclasses
from typing import ClassVar

from keras_avl.models.config_serialization import ConfigSerialization
from keras_avl.validation import check_non_negative, check_positive_int, check_rate


@dataclasses.dataclass
class MethodConfig(ConfigSerialization):
    """Fields shared by every method's config.

    Args:
        num_classes: C, event classes plus background (AVE: 28 + 1).
        segments: T, one-second segments per video.
        grid: (H, W) of the visual feature map (VGG-19 pool5: 7 x 7).
        visual_dim: d_v, visual channels.
        audio_dim: d_a, audio embedding size (VGGish: 128).
        learning_rate: Adam's learning rate used by the builders' `compile`.
    """

    method: ClassVar[str] = None
    # Fields checked as positive integers / rates / reals >= 0 in `__post_init__`.
    positive_ints: ClassVar[tuple] = ()
    rates: ClassVar[tuple] = ()
    non_negative: ClassVar[tuple] = ()

    num_classes: int = 29
    segments: int = 10
    grid: tuple = (7, 7)
    visual_dim: int = 512
    audio_dim: int = 128
    learning_rate: float = 1e-3

    def __post_init__(self):
        for name in ("num_classes", "segments", "visual_dim", "audio_dim") + self.positive_ints:
            setattr(self, name, check_positive_int(name, getattr(self, name)))
        for name in self.rates:
            setattr(self, name, check_rate(name, getattr(self, name)))
        for name in self.non_negative:
            check_non_negative(name, getattr(self, name))
        grid = tuple(self.grid)
        if len(grid) != 2:
            raise ValueError(f"`grid` must be (H, W); received grid={self.grid!r}.")
        self.grid = tuple(check_positive_int("grid", size) for size in grid)
        if self.num_classes < 2:
            raise ValueError(
                "`num_classes` must count the events and the background (>= 2); "
                f"received num_classes={self.num_classes}."
            )
        if not self.learning_rate > 0:
            raise ValueError(
                f"`learning_rate` must be > 0; received learning_rate={self.learning_rate!r}."
            )
