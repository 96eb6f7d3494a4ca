"""What the examples share: their command-line flags, the dataset they load
and the tiny model sizes of `--tiny` (which CI runs so that none rots)."""

import argparse

import keras

from keras_avl.data import embedded_default, load_ave
from keras_avl.models import PaperConfig

TINY_MODEL = dict(embed_dim=8, mfb_output_dim=8, hidden=8, swab_units=8)


def example_arguments(doc, out=None):
    """The parser of an example: `--data`, `--tiny`, `--epochs` (and `--out`
    with default `out`, for the examples that write files)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--data", help="AVE-layout folder (default: embedded dataset)")
    parser.add_argument("--tiny", action="store_true", help="tiny data and model (seconds)")
    parser.add_argument("--epochs", type=int, default=None)
    if out is not None:
        parser.add_argument("--out", default=out, help="output folder")
    return parser


def load_example_data(args):
    """Seeds Keras and loads `--data`, or the embedded default dataset
    (generated on first use; no download): tiny with `--tiny`, else small."""
    keras.utils.set_random_seed(0)
    return load_ave(args.data or embedded_default("tiny" if args.tiny else "small"))


def example_config(data, args):
    """The paper's model config for `data` (which fixes the shapes), tiny with
    `--tiny`."""
    config = PaperConfig(**data.model_config_kwargs())
    return config.replace(**TINY_MODEL) if args.tiny else config


def fit_settings(args):
    """Batch size and epochs: a quick pass with `--tiny`, else `--epochs` or 10."""
    return (16, args.epochs or 1) if args.tiny else (64, args.epochs or 10)
