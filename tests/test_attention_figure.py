"""`keras-avl figure` / `save_attention_figure`: lambda heatmaps of runs of the
three regimes over videos with ground-truth regions, and bad input."""

import matplotlib.image
import numpy as np
import pytest

from keras_avl.cli.main import main
from keras_avl.data import load_ave
from keras_avl.models import PaperConfig, build_model
from keras_avl.runs import Run
from keras_avl.visualization import save_attention_figure
from keras_avl.visualization.attention_figure import figure_videos
from tests.ave_fixtures import TINY_MODEL, tiny_root  # noqa: F401


def make_run(path, regime, data_root, **changes):
    config = PaperConfig(**load_ave(data_root).model_config_kwargs(), **TINY_MODEL).replace(**changes)
    path.mkdir(parents=True)
    build_model(config, regime).save(path / "best.keras")
    Run(path, regime, "paper", config, data=str(data_root)).save_config()
    return path


@pytest.fixture(scope="module")
def runs(tiny_root, tmp_path_factory):
    base = tmp_path_factory.mktemp("runs")
    return [make_run(base / regime, regime, tiny_root)
            for regime in ("supervised", "weak", "unsupervised")]


def test_cli_draws_every_run_on_videos_with_regions(runs, tiny_root, tmp_path, capsys):
    out = tmp_path / "maps.png"
    argv = ["figure", "--runs", *map(str, runs), "--videos", "2", "--out", str(out)]
    assert main(argv) == 0
    image = matplotlib.image.imread(out)
    data = load_ave(tiny_root)
    test = data.orders["test"]
    expected = test[figure_videos(data.regions[test], 2)]
    assert f"videos {expected[0]}, {expected[1]}" in capsys.readouterr().out
    assert all(data.regions[video].any() for video in expected)
    # 2 videos x 3 runs rows, 10 segment columns: a tall-ish, wide figure.
    assert image.shape[1] > image.shape[0] > 0.4 * image.shape[1]
    fewer = tmp_path / "one.png"
    save_attention_figure(fewer, runs[:1], videos=1)
    assert matplotlib.image.imread(fewer).shape[0] < image.shape[0] / 3


def test_figure_videos_skips_videos_without_regions():
    regions = np.zeros((4, 2, 3, 3), np.uint8)
    regions[1, 1, 0, 0] = regions[3, 0, 2, 2] = 1
    assert figure_videos(regions, 2).tolist() == [1, 3]
    with pytest.raises(ValueError, match="Only 2 video"):
        figure_videos(regions, 3)


def test_bad_input_is_named(runs, tiny_root, tmp_path, capsys):
    no_attention = make_run(tmp_path / "pooled", "supervised", tiny_root,
                            modalities="audio+visual")
    with pytest.raises(ValueError, match="no spatial attention"):
        save_attention_figure(tmp_path / "x.png", [no_attention])
    with pytest.raises(ValueError, match="one label per run"):
        save_attention_figure(tmp_path / "x.png", runs, labels=["a"])
    assert main(["figure", "--runs", str(tmp_path / "missing"), "--out",
                 str(tmp_path / "y.png")]) != 0
    assert "missing" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists() and not (tmp_path / "y.png").exists()
