"""Shared helpers of the data/training tests: a tiny generated dataset in the
AVE layout, a way to corrupt one of its files, and tiny model sizes."""

import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from keras_avl.data import generate_dataset

# `../shared` beside the clone (CI) holds the real AVE metadata files.
SHARED_AVE_META = Path(__file__).resolve().parents[1].parent / "shared" / "ave_meta"
# Model sizes small enough for a CPU test run: the paper's model's and A+V-att's
# (each method's config has its own fields).
TINY_MODEL = dict(hidden=8, embed_dim=8, mfb_factor=2, mfb_output_dim=8, swab_units=8)
TINY_AVATT = dict(hidden=8, avatt_hidden_dim=8)


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory):
    """A tiny generated dataset (40 videos: 24/8/8, 4 noisy, 4 events, d_v=d_a=8)."""
    return generate_dataset(tmp_path_factory.mktemp("ave") / "tiny", size="tiny", seed=0)


@pytest.fixture
def tiny_copy(tiny_root, tmp_path):
    """A private copy of the tiny dataset that a test may corrupt."""
    return Path(shutil.copytree(tiny_root, tmp_path / "copy"))


@pytest.fixture
def home(tmp_path, monkeypatch):
    """An empty `$KERAS_AVL_HOME` (the embedded default's cache)."""
    monkeypatch.setenv("KERAS_AVL_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def read_h5(path, key="avadataset"):
    with h5py.File(path, "r") as handle:
        return handle[key][()]


def write_h5(path, array, key="avadataset"):
    """Replaces the file `path` by one holding `array` under `key`."""
    Path(path).unlink(missing_ok=True)
    with h5py.File(path, "w") as handle:
        handle.create_dataset(key, data=np.asarray(array))
