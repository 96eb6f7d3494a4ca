"""`generate_dataset` / `embedded_default`: the embedded default dataset."""

import numpy as np
import pytest

from keras_avl.data import embedded_default, generate_dataset, load_ave, read_annotations
from keras_avl.data.generator import _video_plan
from tests.ave_fixtures import SHARED_AVE_META, home, read_h5, tiny_root  # noqa: F401

FILES = ("visual_feature.h5", "audio_feature.h5", "labels.h5", "labels_closs.h5",
         "mil_labels.h5", "regions.h5", "train_order.h5", "val_order.h5", "test_order.h5",
         "visual_feature_noisy.h5", "audio_feature_noisy.h5", "labels_noisy.h5")


def _key(name):
    return "order" if "order" in name else "avadataset"


def test_same_seed_same_files_other_seed_other_files(tiny_root, tmp_path):
    again = generate_dataset(tmp_path / "again", size="tiny", seed=0)
    other = generate_dataset(tmp_path / "other", size="tiny", seed=1)
    for name in FILES:
        np.testing.assert_array_equal(read_h5(again / name, _key(name)),
                                      read_h5(tiny_root / name, _key(name)))
    assert (again / "Annotations.txt").read_text() == (tiny_root / "Annotations.txt").read_text()
    assert not np.array_equal(read_h5(other / "visual_feature.h5"),
                              read_h5(tiny_root / "visual_feature.h5"))


def test_sizes_and_splits(tmp_path):
    root = generate_dataset(tmp_path / "d", size="tiny", num_train=10, num_val=3, num_test=2,
                            num_noisy=0, num_events=3, visual_dim=5, audio_dim=4)
    data = load_ave(root)
    assert data.visual_shape == (15, 10, 7, 7, 5) and data.audio_dim == 4
    assert data.num_classes == 4 and data.noisy is None
    orders = data.orders
    assert [len(orders[s]) for s in ("train", "val", "test")] == [10, 3, 2]
    assert sorted(np.concatenate(list(orders.values())).tolist()) == list(range(15))


def test_labels_regions_and_annotations_agree(tiny_root):
    labels = read_h5(tiny_root / "labels.h5").argmax(-1)
    regions = read_h5(tiny_root / "regions.h5")
    event = labels != 4
    np.testing.assert_array_equal(read_h5(tiny_root / "labels_closs.h5") == 1, event)
    # A region exactly on the event segments: one 1-2 x 1-2 block, fixed per video.
    np.testing.assert_array_equal(regions.any((2, 3)), event)
    for video in range(len(labels)):
        blocks = regions[video][event[video]]
        assert (blocks == blocks[0]).all()
        rows, cols = np.nonzero(blocks[0])
        height, width = np.ptp(rows) + 1, np.ptp(cols) + 1
        assert height <= 2 and width <= 2 and blocks[0].sum() == height * width
    annotations = read_annotations(tiny_root / "Annotations.txt", segments=10)
    np.testing.assert_array_equal(annotations.segment_labels(10, 5).argmax(-1), labels)
    np.testing.assert_array_equal(read_h5(tiny_root / "mil_labels.h5").argmax(-1),
                                  annotations.class_indices)
    # Classes are numbered by first appearance, as in AVE.
    first_seen = list(dict.fromkeys(annotations.class_indices.tolist()))
    assert first_seen == sorted(first_seen)
    assert (read_h5(tiny_root / "labels_noisy.h5").argmax(-1) == 4).all()


def test_event_iff_the_class_is_both_seen_and_heard():
    rng = np.random.default_rng(0)
    states = set()
    for video in range(300):
        plan = _video_plan(rng, video % 5, 5, 10, (7, 7), has_event=video % 7 > 0)
        for t in range(10):
            seen = {video % 5} if plan["main_visible"][t] else set()
            seen |= {plan["silent_class"]} if plan["silent_visible"][t] else set()
            heard = {video % 5} if plan["main_audible"][t] else set()
            heard |= {plan["offscreen_class"]} if plan["offscreen_audible"][t] else set()
            assert (seen & heard) == ({video % 5} if plan["event"][t] else set())
            states.add((bool(plan["event"][t]), bool(plan["main_visible"][t]),
                        bool(plan["main_audible"][t])))
        assert not (plan["main_box"] & plan["silent_box"]).any()
    # Distractors: the object is also seen but silent, and heard but off-screen.
    assert {(False, True, False), (False, False, True), (False, False, False)} <= states


def test_features_carry_the_sounding_object(tiny_root):
    visual = read_h5(tiny_root / "visual_feature.h5")
    regions = read_h5(tiny_root / "regions.h5").astype(bool)
    magnitude = visual.mean(-1)
    # Object cells carry their class's pattern on top of the scene.
    assert magnitude[regions].mean() > 1.5 * magnitude[~regions].mean()


# The real VGGish rows of AVE's 178 background videos (ave_meta/
# audio_feature_noisy.h5, 1780 x 128), measured by `audio_statistics` below.
REAL_VGGISH = {"zero": 0.653, "mean": 0.122, "rms": 0.289, "cos_to_mean": 0.673}


def audio_statistics(audio):
    """Share of exact zeros, mean and RMS per element, mean cosine of a row to
    the mean row."""
    rows = np.asarray(audio, np.float64).reshape(-1, audio.shape[-1])
    mean_row = rows.mean(0)
    cosines = rows @ mean_row / np.linalg.norm(rows, axis=1) / np.linalg.norm(mean_row)
    return {"zero": (rows == 0).mean(), "mean": rows.mean(),
            "rms": np.sqrt((rows ** 2).mean()), "cos_to_mean": cosines.mean()}


@pytest.fixture(scope="module")
def realistic_root(tmp_path_factory):
    """Tiny, but with AVE's audio width and enough background videos to measure."""
    return generate_dataset(tmp_path_factory.mktemp("stats") / "d", size="tiny", seed=3,
                            visual_dim=64, audio_dim=128, num_noisy=100)


@pytest.mark.skipif(not (SHARED_AVE_META / "audio_feature_noisy.h5").is_file(),
                    reason="needs the real AVE metadata in ../shared/ave_meta")
def test_quoted_real_vggish_statistics():
    real = audio_statistics(read_h5(SHARED_AVE_META / "audio_feature_noisy.h5"))
    for name, value in REAL_VGGISH.items():
        assert real[name] == pytest.approx(value, abs=1e-3), name


def test_audio_has_the_statistics_of_real_vggish(realistic_root):
    audio = read_h5(realistic_root / "audio_feature_noisy.h5")
    assert audio.min() == 0  # post-ReLU: non-negative, with exact zeros
    measured = audio_statistics(audio)
    tolerance = {"zero": 0.06, "mean": 0.03, "rms": 0.05, "cos_to_mean": 0.1}
    for name, value in REAL_VGGISH.items():
        assert abs(measured[name] - value) <= tolerance[name], (name, measured[name])
    # Some dimensions are almost always off, a few fire most of the time.
    dimension_means = audio.reshape(-1, 128).mean(0)
    assert np.quantile(dimension_means, 0.1) < 0.03 < 0.2 < np.quantile(dimension_means, 0.9)


def test_visual_is_post_relu_with_scene_and_object_channels(realistic_root):
    visual = read_h5(realistic_root / "visual_feature.h5")
    regions = read_h5(realistic_root / "regions.h5").astype(bool)
    assert visual.min() == 0
    assert 0.6 < (visual == 0).mean() < 0.95  # most activations exactly zero
    assert visual.max() > 10 * np.sqrt((visual ** 2).mean())  # heavy tail
    # Scene channels: in every video some channel fires in most cells.
    firing = (visual > 0).mean((1, 2, 3))  # (videos, channels)
    assert (firing.max(-1) > 0.75).all()
    # Object channels: the sounding object's cells are denser and stronger.
    assert (visual[regions] == 0).mean() < (visual[~regions] == 0).mean() - 0.05
    assert visual[regions].mean() > 2 * visual[~regions].mean()


def test_the_object_in_the_region_tells_the_label(realistic_root):
    """Leave-one-out nearest class mean of the region's visual feature."""
    visual = read_h5(realistic_root / "visual_feature.h5")
    regions = read_h5(realistic_root / "regions.h5").astype(bool)
    classes = read_h5(realistic_root / "mil_labels.h5").argmax(-1)
    features = np.stack([visual[i][regions[i]].mean(0) for i in range(len(visual))])
    features /= np.linalg.norm(features, axis=1, keepdims=True)
    hits = []
    for i in range(len(features)):
        others = np.arange(len(features)) != i
        means = np.stack([features[others & (classes == k)].mean(0) for k in range(4)])
        hits.append((means @ features[i]).argmax() == classes[i])
    assert np.mean(hits) > 0.9


def test_refuses_a_non_empty_folder(tiny_root):
    with pytest.raises(FileExistsError, match=str(tiny_root)):
        generate_dataset(tiny_root, size="tiny")


def test_unknown_size_and_argument(tmp_path):
    with pytest.raises(ValueError, match="size"):
        generate_dataset(tmp_path / "a", size="huge")
    with pytest.raises(ValueError, match="num_videos"):
        generate_dataset(tmp_path / "b", size="tiny", num_videos=3)


def test_embedded_default_is_generated_once_into_the_cache(home):
    folder = embedded_default("tiny", seed=2)
    assert folder.parent == home / "datasets"
    stamp = (folder / "visual_feature.h5").stat().st_mtime_ns
    assert embedded_default("tiny", seed=2) == folder
    assert (folder / "visual_feature.h5").stat().st_mtime_ns == stamp
    assert [p.name for p in folder.parent.iterdir()] == [folder.name]  # no staging left
    load_ave(folder)
