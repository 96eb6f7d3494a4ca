"""`keras-avl localize` end to end for runs of the three regimes (tiny models
saved in run folders, random-weight backbones): per-segment events, the PNG
strip and the MP4 with the heatmap and the audio, and bad input."""

import av
import numpy as np
import pytest

from keras_avl.cli.main import main
from keras_avl.features import FeatureExtractor
from keras_avl.models import PaperConfig, build_model
from keras_avl.runs import Run
from keras_avl.visualization import localize_video
from tests.features_media import make_video

T = 4
BACKBONES = ["--frames-per-segment", "1", "--visual-weights", "random", "--vggish-weights", "random"]


def tiny_config(**changes):
    settings = dict(num_classes=3, segments=T, visual_dim=512, audio_dim=128, embed_dim=8,
                    mfb_output_dim=4, hidden=4, swab_units=4)
    return PaperConfig(**{**settings, **changes})


def make_run(path, regime, config=None, data=None):
    config = config or tiny_config()
    path.mkdir(parents=True)
    build_model(config, regime).save(path / "best.keras")
    Run(path, regime, "paper", config, data=data).save_config()
    return path


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    return make_video(tmp_path_factory.mktemp("video") / "clip.mp4", seconds=3)


@pytest.fixture(scope="module")
def labelled_data(tmp_path_factory):
    """A dataset folder whose Annotations.txt names the run's two events."""
    from keras_avl.data import generate_dataset

    return generate_dataset(tmp_path_factory.mktemp("data") / "ave", size="tiny")


@pytest.fixture(scope="module")
def extractor():
    return FeatureExtractor("random", "random")


def read_tsv(path):
    header, *rows = [line.split("\t") for line in path.read_text().splitlines()]
    return header, rows


def check_outputs(out, video_frames):
    import matplotlib.image

    strip = matplotlib.image.imread(out / "heatmaps.png")
    assert strip.ndim == 3 and strip.shape[1] > strip.shape[0]
    with av.open(str(out / "overlay.mp4")) as container:
        assert container.streams.audio, "the overlay MP4 must keep the audio"
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    with av.open(str(out / "overlay.mp4")) as container:
        audio = np.concatenate([f.to_ndarray() for f in container.decode(audio=0)], axis=1)
    assert len(frames) == video_frames
    assert audio.shape[1] == pytest.approx(3 * 22050, rel=0.05) and np.abs(audio).max() > 0.3
    return frames


def test_supervised_run_via_cli(video, tmp_path, capsys):
    run = make_run(tmp_path / "run", "supervised")
    out = tmp_path / "maps"
    assert main(["localize", str(video), "--run", str(run), "--out", str(out)] + BACKBONES) == 0
    printed = capsys.readouterr().out
    header, rows = read_tsv(out / "segments.tsv")
    assert header == ["segment", "seconds", "valid", "class", "name", "probability", "alpha"]
    assert [r[2] for r in rows] == ["1", "1", "1", "0"]  # 3 s of a T = 4 clip
    assert all(0 < float(r[5]) <= 1 for r in rows) and "probability" in printed
    saved = np.load(out / "attention.npz")
    np.testing.assert_allclose(saved["spatial_attention"].reshape(T, -1).sum(-1), 1, rtol=1e-4)
    np.testing.assert_allclose(saved["segment_probabilities"].sum(-1), 1, rtol=1e-4)
    # The model is fed the clip's mask: SWAB's alpha leaves the padded segment out.
    np.testing.assert_array_equal(saved["mask"], [1, 1, 1, 0])
    assert saved["segment_attention"][3] == 0 and float(rows[3][6]) == 0
    np.testing.assert_allclose(saved["segment_attention"][:3].sum(), 1, rtol=1e-4)
    frames = check_outputs(out, video_frames=30)
    # The heatmap is drawn over the frames: they differ from the source's.
    with av.open(str(video)) as container:
        source = next(container.decode(video=0)).to_ndarray(format="rgb24")
    assert np.abs(frames[0].astype(int) - source.astype(int)).mean() > 20


def test_weak_run_names_classes_from_its_dataset(video, tmp_path, extractor, labelled_data):
    from keras_avl.data import load_ave

    names = load_ave(labelled_data).class_names
    run = make_run(tmp_path / "run", "weak", tiny_config(num_classes=len(names)), data=str(labelled_data))
    result = localize_video(run, video, tmp_path / "maps", extractor, frames_per_segment=1)
    assert {row["name"] for row in result.rows()} <= set(names)
    header, rows = read_tsv(tmp_path / "maps" / "segments.tsv")
    assert [r[header.index("name")] for r in rows] == [names[int(r[header.index("class")])] for r in rows]
    check_outputs(tmp_path / "maps", video_frames=30)


def test_unsupervised_run_draws_maps_only(video, tmp_path, extractor):
    run = make_run(tmp_path / "run", "unsupervised")
    result = localize_video(run, video, tmp_path / "maps", extractor, frames_per_segment=1)
    assert result.segment_probabilities is None
    header, _ = read_tsv(tmp_path / "maps" / "segments.tsv")
    assert header == ["segment", "seconds", "valid", "alpha"]
    assert result.spatial_attention.shape == (T, 7, 7)
    assert result.segment_attention[3] == 0  # the padded segment (3 s of a T = 4 clip)
    check_outputs(tmp_path / "maps", video_frames=30)


def test_bad_input(video, tmp_path, capsys):
    run = make_run(tmp_path / "run", "supervised", tiny_config())
    assert main(["localize", str(tmp_path / "none.mp4"), "--run", str(run)] + BACKBONES) == 2
    assert "none.mp4" in capsys.readouterr().err
    assert main(["localize", str(video), "--run", str(tmp_path / "norun")] + BACKBONES) == 2
    assert "norun" in capsys.readouterr().err
    small = make_run(tmp_path / "small", "supervised", tiny_config(visual_dim=8))
    assert main(["localize", str(video), "--run", str(small)] + BACKBONES) == 2
    assert "visual_dim" in capsys.readouterr().err
    assert not (run / "localize").exists() and not (small / "localize").exists()
