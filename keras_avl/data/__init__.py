"""Data: the AVE release layout, its `tf.data` pipelines and the embedded
default dataset (a seeded synthetic dataset in the same layout)."""

from keras_avl.data.annotations import Annotations, read_annotations
from keras_avl.data.ave_dataset import SPLITS, AVEData, load_ave
from keras_avl.data.embedded import embedded_default
from keras_avl.data.generator import SIZES, generate_dataset
from keras_avl.data.pipeline import class_shares, make_dataset
from keras_avl.data.resolve import resolve_data

__all__ = [
    "AVEData",
    "Annotations",
    "SIZES",
    "SPLITS",
    "embedded_default",
    "generate_dataset",
    "load_ave",
    "class_shares",
    "make_dataset",
    "read_annotations",
    "resolve_data",
]
