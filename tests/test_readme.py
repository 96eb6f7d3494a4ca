"""The README's API tour must run as written."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_api_tour_runs():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert blocks, "README.md has no python block"
    namespace = {}
    exec(compile(blocks[0], str(README), "exec"), namespace)
    maps = namespace["maps"]
    assert maps["spatial_attention"].shape == (8, 10, 7, 7)
    assert maps["segment_probabilities"].shape == (8, 10, 29)


def test_training_tour_runs(tmp_path, monkeypatch):
    """The second python block: `train` with a `TrainingConfig`, in a
    scratch folder."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KERAS_AVL_HOME", str(tmp_path / "home"))
    namespace = {}
    exec(compile(blocks[1], str(README), "exec"), namespace)
    assert namespace["run"].training.batch_size == 16
    assert namespace["again"].training.protocol == "ave-eccv18-supervised"
    assert (tmp_path / "runs" / "tour-audio" / "config.json").is_file()
