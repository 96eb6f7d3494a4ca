"""`make_dataset(data_path=...)`: the in-memory visual path gives exactly the
batches of the streaming path (order, negatives, pass by pass), and `"auto"`
chooses from the split's size against the available memory."""

import h5py
import numpy as np
import pytest

from keras_avl.data import generate_dataset, load_ave, make_dataset
from keras_avl.data.ave_dataset import FEATURE_KEY
from keras_avl.data.pipeline import MEMORY_SHARE, read_visual_rows, visual_data_path


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return load_ave(generate_dataset(tmp_path_factory.mktemp("ave") / "ave", size="tiny"))


@pytest.mark.parametrize("regime", ["supervised", "weak", "unsupervised"])
def test_memory_and_stream_give_the_same_batches_every_pass(data, regime):
    passes = {}
    for path in ("stream", "memory"):
        dataset = make_dataset(data, "train", regime, batch_size=5, seed=3, data_path=path)
        passes[path] = [(x, y) for _ in range(2) for x, y in dataset]
    assert len(passes["stream"]) == len(passes["memory"]) > 2
    for (xs, ys), (xm, ym) in zip(passes["stream"], passes["memory"]):
        assert sorted(xs) == sorted(xm)
        for key in xs:
            np.testing.assert_array_equal(xs[key], xm[key])
        np.testing.assert_array_equal(ys, ym)


def test_read_visual_rows_reads_the_listed_rows(data, tmp_path):
    with h5py.File(data.visual_path, "r") as file:
        everything = file[FEATURE_KEY][:]
    rows = [5, 0, 17, 3, 3]
    got = read_visual_rows([(data.visual_path, r) for r in rows], everything.shape[1:], chunk_rows=4)
    np.testing.assert_array_equal(got, everything[rows].astype(np.float32))


def test_auto_chooses_memory_only_when_the_split_fits(data):
    _, needed, _ = visual_data_path(data, "train", "supervised", "stream", available=1)
    expected = len(data.orders["train"]) * int(np.prod(data.visual_shape[1:])) * 4
    assert needed == expected
    fits = int(np.ceil(needed / MEMORY_SHARE))
    assert visual_data_path(data, "train", "supervised", available=fits)[0] == "memory"
    assert visual_data_path(data, "train", "supervised", available=fits - 10)[0] == "stream"
    assert visual_data_path(data, "train", "supervised", "memory", available=1)[0] == "memory"


def test_unknown_data_path_is_refused(data):
    with pytest.raises(ValueError, match="data_path"):
        make_dataset(data, "train", "supervised", data_path="disk")
