"""`embedded_default`: the default dataset, generated once into a cache folder."""

import os
import shutil
import tempfile
from pathlib import Path

from keras_avl.data.generator import GENERATOR_VERSION, generate_dataset

HOME_VARIABLE = "KERAS_AVL_HOME"
DEFAULT_HOME = "~/.cache/keras_avl"


def cache_home():
    """`$KERAS_AVL_HOME`, default `~/.cache/keras_avl`."""
    return Path(os.environ.get(HOME_VARIABLE, DEFAULT_HOME)).expanduser()


def embedded_default(size="small", seed=0):
    """The folder of the embedded default dataset, generating it on first use.

    The dataset is written into a temporary folder and renamed into place, so a
    killed generation never leaves a half-written dataset behind.

    Args:
        size: `"small"` (the default, minutes on a CPU), `"tiny"` or `"full"`
            (AVE's sizes, ~4 GB); see `keras_avl.data.generator.SIZES`.
        seed: the generator's seed.

    Example:

    >>> import os, tempfile
    >>> os.environ["KERAS_AVL_HOME"] = tempfile.mkdtemp()
    >>> embedded_default("tiny").name
    'embedded-tiny-seed0-v2'
    """
    folder = cache_home() / "datasets" / f"embedded-{size}-seed{seed}-v{GENERATOR_VERSION}"
    if folder.is_dir():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        generate_dataset(staging, size=size, seed=seed, overwrite=True)
        try:
            os.rename(staging, folder)
        except OSError:
            # Another process finished first; its copy is identical (same seed).
            if not folder.is_dir():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder
