"""`keras-avl train / evaluate / compare` end to end at tiny sizes."""

import pytest
import json

from keras_avl.cli.main import main
from tests.ave_fixtures import TINY_AVATT, TINY_MODEL, home, tiny_root  # noqa: F401

SETS = [word for key, value in TINY_MODEL.items() for word in ("--set", f"{key}={value}")]


def test_train_then_evaluate_unsupervised_on_the_embedded_default(home, tmp_path, capsys):
    run_dir = tmp_path / "unsup"
    code = main(["train", "--regime", "unsupervised", "--embedded-size", "tiny", "--epochs", "1",
                 "--run-dir", str(run_dir), "--verbose", "0", *SETS])
    assert code == 0
    config = json.loads((run_dir / "config.json").read_text())
    assert config["data"] is None and config["embedded_size"] == "tiny"
    assert config["training"]["deterministic"] is True  # the default, as in `compare`
    assert (home / "datasets").is_dir()  # generated on first use
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["monitor"] == "val_loss" and metrics["completed"]
    # Resuming a finished run trains nothing and keeps it as it is.
    assert main(["train", "--resume", "--run-dir", str(run_dir), "--verbose", "0"]) == 0
    assert json.loads((run_dir / "metrics.json").read_text()) == metrics
    capsys.readouterr()
    assert main(["evaluate", str(run_dir)]) == 0
    report = capsys.readouterr().out
    assert "Segment accuracy: n/a" in report and "Pointing game:" in report
    stored = json.loads((run_dir / "metrics.json").read_text())["evaluation"]["test"]
    assert f"{100 * stored['pointing_game']:.2f}%" in report
    assert (f"{100 * stored['ciou_ap50']:6.2f}% "
            f"(random map: {100 * stored['ciou_ap50_chance']:.2f}%)") in report
    assert stored["ciou_definition"]["image_size"] == [224, 224]


def test_deterministic_is_the_default_and_can_be_turned_off():
    from keras_avl.cli.main import build_parser

    parser = build_parser()
    # None: `train`'s default for a new run (deterministic, see
    # test_training_run), the recorded setting for a resumed one.
    assert parser.parse_args(["train"]).deterministic is None
    assert parser.parse_args(["train", "--deterministic"]).deterministic is True
    assert parser.parse_args(["train", "--no-deterministic"]).deterministic is False


def test_existing_run_folder_is_a_clear_error(tmp_path, capsys):
    run_dir = tmp_path / "taken"
    run_dir.mkdir()
    (run_dir / "notes.txt").write_text("mine")
    code = main(["train", "--regime", "supervised", "--run-dir", str(run_dir), "--verbose", "0"])
    assert code == 2
    assert "already exists" in capsys.readouterr().err
    assert [p.name for p in run_dir.iterdir()] == ["notes.txt"]


def test_resume_needs_the_run_folder(capsys):
    assert main(["train", "--resume"]) == 2
    assert "--run-dir" in capsys.readouterr().err


def test_bad_data_is_a_clear_error(tmp_path, capsys):
    code = main(["train", "--regime", "weak", "--data", str(tmp_path / "missing"),
                 "--run-dir", str(tmp_path / "run")])
    assert code == 2
    assert str(tmp_path / "missing") in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_compare_writes_a_results_table(tiny_root, tmp_path, capsys):
    output = tmp_path / "results" / "table.md"
    code = main(["compare", "--models", "audio", "--regimes", "weak,unsupervised",
                 "--data", str(tiny_root), "--epochs", "1", "--runs-dir", str(tmp_path / "runs"),
                 "--output", str(output), "--verbose", "0", *SETS])
    assert code == 0
    table = output.read_text()
    # The unsupervised regime cannot build the audio-only variant: skipped, said so.
    assert "Skipped unsupervised/audio" in capsys.readouterr().out
    rows = json.loads(output.with_suffix(".json").read_text())
    assert [(row["regime"], row["variant"]) for row in rows] == [("weak", "audio")]
    run_dir = tmp_path / "runs" / "weak-audio" / "seed0"
    evaluation = json.loads((run_dir / "metrics.json").read_text())
    accuracy = evaluation["evaluation"]["test"]["segment_accuracy"]
    assert f"| weak | audio | {100 * accuracy:.1f} (1 seed) | n/a |" in table
    assert "keras-avl compare --regimes weak --models audio --seeds 0" in table
    assert "Localization n/a: audio: the model 'audio' has no spatial attention." in table
    assert rows[0]["per_seed"][0]["evaluate_command"] == f"keras-avl evaluate {run_dir} --split test"


def test_a_protocol_that_does_not_fit_lists_the_model_s_protocols(tmp_path, capsys):
    code = main(["train", "--regime", "supervised", "--model", "paper", "--protocol",
                 "psp-cvpr21-supervised", "--run-dir", str(tmp_path / "run"), "--verbose", "0"])
    assert code == 2
    error = capsys.readouterr().err
    assert "Protocols for 'paper': ['ave-eccv18-supervised', 'ave-eccv18-weak']" in error
    assert not (tmp_path / "run").exists()


@pytest.mark.slow  # long end to end; `bash scripts/test.sh --all` runs it
def test_compare_trains_each_model_with_its_own_protocol(tiny_root, tmp_path):
    output = tmp_path / "table.md"
    code = main(["compare", "--models", "avatt,avatt-adam", "--protocol", "own",
                 "--data", str(tiny_root), "--epochs", "1", "--runs-dir", str(tmp_path / "runs"),
                 "--output", str(output), "--verbose", "0",
                 *[word for key, value in TINY_AVATT.items() for word in ("--set", f"{key}={value}")]])
    assert code == 0
    rows = {row["variant"]: row for row in json.loads(output.with_suffix(".json").read_text())}
    assert "--protocol own" in rows["avatt"]["command"]
    assert "--protocol ave-eccv18-supervised" in rows["avatt"]["per_seed"][0]["train_command"]
    assert "--protocol" not in rows["avatt-adam"]["per_seed"][0]["train_command"]
    recorded = {name: json.loads((tmp_path / "runs" / f"supervised-{name}" / "seed0"
                                  / "config.json").read_text())["training"]
                for name in rows}
    assert recorded["avatt"]["protocol"] == "ave-eccv18-supervised"
    assert recorded["avatt"]["epochs"] == 1 and recorded["avatt-adam"]["protocol"] is None
