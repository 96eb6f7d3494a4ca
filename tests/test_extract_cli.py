"""`keras-avl extract` end to end on real MP4 files (PyAV, drawn frames and a
tone) with random-weight backbones: the AVE layout, masks, sharding, resume
after a kill, the skip log, atomic outputs and bad input."""

import os

import h5py
import numpy as np
import pytest

from keras_avl.cli.main import main
from keras_avl.features import (
    ExtractionSettings,
    FeatureExtractor,
    extract_dataset,
    parse_shard,
    read_clips,
)
from keras_avl.features import ave_extraction
from tests.features_media import make_truncated, make_video

T = 4
ARGS = ["--segments", str(T), "--frames-per-segment", "1", "--visual-weights", "random",
        "--vggish-weights", "random", "--quiet"]
SETTINGS = ExtractionSettings(segments=T, frames_per_segment=1, visual_weights="random",
                              vggish_weights="random")
USABLE = ["a", "b", "short"]
SKIPPED = {"broken": "unsupported or corrupt container", "cut": "truncated",
           "mute": "no audio stream", "silent": "silent audio"}


@pytest.fixture(scope="module")
def collection(tmp_path_factory):
    folder = tmp_path_factory.mktemp("videos")
    make_video(folder / "a.mp4", seconds=4, tone=440)
    make_video(folder / "b.mp4", seconds=4, tone=880, sample_rate=16000, channels="mono")
    make_video(folder / "short.mp4", seconds=3)
    make_video(folder / "mute.mp4", seconds=4, audio=None)
    make_video(folder / "silent.mp4", seconds=4, audio="silence")
    make_truncated(folder / "broken.mp4", folder / "a.mp4")
    streamed = make_video(folder.parent / "streamed.mp4", seconds=4, faststart=True)
    make_truncated(folder / "cut.mp4", streamed, streamed.stat().st_size // 2)
    (folder / "notes.txt").write_text("not a video, and not a video suffix\n")
    annotations = folder.parent / "videos_annotations.txt"
    annotations.write_text("".join(
        f"{'Bark' if name in ('a', 'short') else 'Flute'}&{name}&good&0&{T}\n"
        for name in sorted(USABLE + list(SKIPPED))
    ))
    return folder, annotations


@pytest.fixture(scope="module")
def extractor():
    return FeatureExtractor("random", "random")


@pytest.fixture(scope="module")
def sharded(collection, tmp_path_factory):
    """Two CLI runs, shard 0/2 then 1/2, as an array job would."""
    folder, annotations = collection
    out = tmp_path_factory.mktemp("extracted") / "ave"
    codes = [main(["extract", str(folder), "--out", str(out), "--shard", "0/2",
                   "--annotations", str(annotations)] + ARGS)]
    after_first = sorted(os.listdir(out)), sorted(os.listdir(out / "parts"))
    codes.append(main(["extract", str(folder), "--out", str(out), "--shard", "1/2",
                       "--annotations", str(annotations)] + ARGS))
    return out, codes, after_first


def leftovers(folder):
    """Temporary files of atomic writes left behind (there must be none)."""
    return [p for p in folder.rglob("*") if p.name.endswith(".tmp")]


def test_first_shard_waits_for_the_others(sharded):
    out, codes, (folder_after_first, parts_after_first) = sharded
    assert codes == [0, 0]
    # Nothing assembled while shard 1's videos are pending.
    assert folder_after_first == ["extraction.json", "parts"]
    # Sorted ids a, b, broken, cut, mute, short, silent: shard 0 took every
    # other one from a, shard 1 the rest.
    assert parts_after_first == ["a.npz", "broken.skipped", "mute.skipped", "silent.skipped"]
    assert sorted(p.name for p in (out / "parts").iterdir()) == sorted(
        ["a.npz", "b.npz", "short.npz"] + [f"{name}.skipped" for name in SKIPPED])


def test_ave_layout_shapes_and_masks(sharded):
    out = sharded[0]
    with h5py.File(out / "visual_feature.h5") as f:
        visual = f["avadataset"][...]
    with h5py.File(out / "audio_feature.h5") as f:
        audio = f["avadataset"][...]
    with h5py.File(out / "segment_mask.h5") as f:
        mask = f["avadataset"][...]
    assert visual.shape == (3, T, 7, 7, 512) and visual.dtype == np.float32
    assert audio.shape == (3, T, 128) and audio.dtype == np.float32
    assert (out / "video_ids.txt").read_text().split() == USABLE
    np.testing.assert_array_equal(mask, [[1, 1, 1, 1], [1, 1, 1, 1], [1, 1, 1, 0]])
    assert not visual[2, 3].any() and not audio[2, 3].any()  # the padded segment
    assert visual[:, :3].any(axis=(2, 3, 4)).all() and audio[:, :3].any(axis=-1).all()
    assert leftovers(out) == []


def test_skip_log_gives_each_reason(sharded):
    lines = (sharded[0] / "skipped.tsv").read_text().splitlines()
    found = {os.path.basename(line.split("\t")[0]): line.split("\t")[1] for line in lines}
    assert found == {f"{name}.mp4": reason for name, reason in SKIPPED.items()}


def test_training_loader_reads_the_folder(sharded):
    from keras_avl.data import load_ave

    data = load_ave(sharded[0])
    assert data.visual_shape == (3, T, 7, 7, 512)
    assert data.class_names == ["Bark", "Flute", "background"]
    assert data.segment_labels.argmax(-1)[:, 0].tolist() == [0, 1, 0]
    assert sorted(np.concatenate(list(data.orders.values())).tolist()) == [0, 1, 2]
    np.testing.assert_array_equal(data.segment_mask, [[1, 1, 1, 1], [1, 1, 1, 1], [1, 1, 1, 0]])


def test_training_and_evaluation_see_the_padding(sharded, tmp_path, monkeypatch):
    """extract -> load_ave -> make_dataset -> train / evaluate: the padded
    segment of the 3-s video is in the batches' mask and out of the metrics."""
    from keras_avl.data import load_ave, make_dataset
    from keras_avl.training import evaluate, train

    monkeypatch.setenv("KERAS_AVL_HOME", str(tmp_path / "home"))
    data = load_ave(sharded[0])
    split = next(name for name, order in data.orders.items() if 2 in order)
    inputs, _ = next(iter(make_dataset(data, split, "supervised", shuffle=False)))
    np.testing.assert_array_equal(inputs["segment_mask"], data.segment_mask[data.orders[split]])
    run = train(tmp_path / "run", "supervised", data=sharded[0], epochs=1, verbose=0,
                model_config=dict(hidden=4, embed_dim=8, mfb_factor=2, mfb_output_dim=4,
                                  swab_units=4))
    result = evaluate(run, split, record=False)
    real_segments = int(data.segment_mask[data.orders[split]].sum())
    assert real_segments < T * len(data.orders[split])
    assert np.sum(result["confusion_matrix"]) == real_segments


def test_second_run_skips_finished_videos(sharded, collection, extractor):
    out = sharded[0]
    parts = {p.name: p.stat().st_mtime_ns for p in (out / "parts").iterdir()}
    report = extract_dataset([collection[0]], out, SETTINGS, extractor=extractor, progress=False,
                             annotations=collection[1])
    assert report.extracted == [] and report.skipped == []
    assert sorted(report.resumed) == sorted(USABLE + list(SKIPPED))
    assert {p.name: p.stat().st_mtime_ns for p in (out / "parts").iterdir()} == parts


def test_killed_run_resumes_and_features_match_a_direct_extraction(collection, extractor, tmp_path,
                                                                   monkeypatch):
    out = tmp_path / "ave"
    write_part = ave_extraction._write_part
    calls = []

    def killed_on_second_video(parts, path, clips, extractor):
        calls.append(path.stem)
        if len(calls) == 2:
            raise KeyboardInterrupt  # as if the job were killed mid-write
        write_part(parts, path, clips, extractor)

    monkeypatch.setattr(ave_extraction, "_write_part", killed_on_second_video)
    with pytest.raises(KeyboardInterrupt):
        extract_dataset([collection[0]], out, SETTINGS, extractor=extractor, progress=False)
    monkeypatch.setattr(ave_extraction, "_write_part", write_part)
    assert not (out / "visual_feature.h5").exists() and leftovers(out) == []
    report = extract_dataset([collection[0]], out, SETTINGS, extractor=extractor, progress=False)
    assert report.resumed == ["a"] and report.extracted == ["b", "short"] and report.assembled
    with h5py.File(out / "visual_feature.h5") as f:
        visual = f["avadataset"][2]
    with h5py.File(out / "audio_feature.h5") as f:
        audio = f["avadataset"][2]
    direct_visual, direct_audio = extractor(next(read_clips(collection[0] / "short.mp4", T, 1)))
    np.testing.assert_allclose(visual, direct_visual, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(audio, direct_audio, rtol=1e-5, atol=1e-5)


def test_windows_cut_long_videos(collection, extractor, tmp_path):
    folder = collection[0]
    settings = ExtractionSettings(segments=2, frames_per_segment=1, windows=True,
                                  visual_weights="random", vggish_weights="random")
    extract_dataset([folder / "a.mp4", folder / "short.mp4"], tmp_path, settings,
                    extractor=extractor, progress=False)
    assert (tmp_path / "video_ids.txt").read_text().split() == ["a@0", "a@2", "short@0", "short@2"]
    with h5py.File(tmp_path / "segment_mask.h5") as f:
        np.testing.assert_array_equal(f["avadataset"][...], [[1, 1], [1, 1], [1, 1], [1, 0]])


def test_other_settings_are_refused_on_resume(sharded, collection, extractor):
    out = sharded[0]
    before = (out / "extraction.json").read_text()
    with pytest.raises(ValueError, match="frames_per_segment"):
        extract_dataset([collection[0]], out, ExtractionSettings(
            segments=T, frames_per_segment=2, visual_weights="random", vggish_weights="random"),
            extractor=extractor, progress=False)
    assert (out / "extraction.json").read_text() == before


def test_bad_input_names_it_and_writes_nothing(collection, tmp_path, capsys):
    folder = collection[0]
    out = tmp_path / "never"
    assert main(["extract", str(folder / "missing.mp4"), "--out", str(out)] + ARGS) == 2
    assert "missing.mp4" in capsys.readouterr().err and not out.exists()
    garbage = tmp_path / "vggish_model.ckpt"
    garbage.write_text("not a checkpoint")
    args = ARGS[:ARGS.index("--vggish-weights")] + ["--vggish-weights", str(garbage), "--quiet"]
    assert main(["extract", str(folder), "--out", str(out)] + args) == 2
    assert str(garbage) in capsys.readouterr().err and not out.exists()
    assert main(["extract", str(folder), "--out", str(out), "--shard", "2/2"] + ARGS) == 2
    assert "shard" in capsys.readouterr().err and not out.exists()


def test_parse_shard():
    assert parse_shard("0/1") == (0, 1) and parse_shard("3/4") == (3, 4)
    for text in ("4/4", "-1/2", "1", "a/b", "1/0"):
        with pytest.raises(ValueError, match="shard"):
            parse_shard(text)
