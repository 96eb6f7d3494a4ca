"""`train` / `evaluate`: the run folder, bad inputs, resume after a kill."""

import json
import subprocess
import sys

import h5py
import keras
import numpy as np
import pytest

from keras_avl.runs import load_run
from keras_avl.training import evaluate, train
from keras_avl.training_config import TrainingConfig
from tests.ave_fixtures import (TINY_AVATT, TINY_MODEL, read_h5, tiny_copy, tiny_root,  # noqa: F401
                                write_h5)


@pytest.fixture(scope="module")
def supervised_run(tiny_root, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("runs") / "supervised"
    return train(run_dir, "supervised", data=tiny_root, epochs=1, verbose=0, model_config=TINY_MODEL)


def test_run_folder_contents(supervised_run, tiny_root):
    path = supervised_run.path
    assert {p.name for p in path.iterdir()} == {"config.json", "best.keras", "metrics.json", "logs",
                                                "backup"}
    assert any((path / "logs").rglob("events.out.tfevents.*"))
    run = load_run(path)
    assert run.regime == "supervised" and run.variant == "paper"
    # Sized from the data (tiny: 4 events + background, d_v = d_a = 8).
    config = run.model_config
    assert (config.num_classes, config.visual_dim, config.audio_dim, config.hidden) == (5, 8, 8, 8)
    # auto: no XLA on a CPU-only TensorFlow, whatever the run's length.
    assert run.training == TrainingConfig(
        epochs=1, batch_size=64, learning_rate=1e-3, seed=0, deterministic=True,
        jit_compile=keras.backend.backend() != "tensorflow")
    # The whole recipe, recorded as `TrainingConfig.to_dict` writes it.
    recorded = json.loads((path / "config.json").read_text())
    assert recorded["training"] == run.training.to_dict()
    metrics = json.loads((path / "metrics.json").read_text())
    assert metrics["completed"] and metrics["monitor"] == "val_categorical_accuracy"
    assert [entry["epoch"] for entry in metrics["history"]] == [1]


def test_evaluate_matches_an_independent_computation(supervised_run, tiny_root):
    result = evaluate(supervised_run)
    order = read_h5(tiny_root / "test_order.h5", "order")
    with h5py.File(tiny_root / "visual_feature.h5") as handle:
        visual = handle["avadataset"][()][order]
    inputs = {"visual": visual, "audio": read_h5(tiny_root / "audio_feature.h5")[order]}
    predicted = supervised_run.load_model().predict(inputs, verbose=0).argmax(-1)
    true = read_h5(tiny_root / "labels.h5")[order].argmax(-1)
    assert result["segment_accuracy"] == pytest.approx(np.mean(predicted == true))
    assert np.sum(result["confusion_matrix"]) == true.size
    assert list(result["per_class_accuracy"])[-1] == "background"
    # The pointing game: test_evaluate_scores_the_videos_of_the_split.
    stored = json.loads((supervised_run.path / "metrics.json").read_text())
    assert stored["evaluation"]["test"]["segment_accuracy"] == result["segment_accuracy"]
    assert stored["completed"]  # training's summary is kept


def test_evaluate_counts_the_real_segments_only(supervised_run, tiny_copy):
    real = 10 - np.arange(40) % 5  # video i: its last i % 5 segments are padding
    mask = (np.arange(10) < real[:, None]).astype(np.float32)
    with h5py.File(tiny_copy / "segment_mask.h5", "w") as handle:
        handle.create_dataset("avadataset", data=mask)
    result = evaluate(supervised_run, data=tiny_copy, record=False)
    order = read_h5(tiny_copy / "test_order.h5", "order")
    with h5py.File(tiny_copy / "visual_feature.h5") as handle:
        visual = handle["avadataset"][()][order]
    inputs = {"visual": visual, "audio": read_h5(tiny_copy / "audio_feature.h5")[order],
              "segment_mask": mask[order]}
    predicted = supervised_run.load_model().predict(inputs, verbose=0).argmax(-1)
    true = read_h5(tiny_copy / "labels.h5")[order].argmax(-1)
    valid = mask[order] == 1
    assert not valid.all()
    assert result["segment_accuracy"] == pytest.approx(np.mean(predicted[valid] == true[valid]))
    assert np.sum(result["confusion_matrix"]) == valid.sum()
    assert result["pointing_game_segments"] == int(((true != 4) & valid).sum())


def test_existing_run_folder_is_never_overwritten(supervised_run, tiny_root):
    before = (supervised_run.path / "config.json").read_text()
    with pytest.raises(FileExistsError, match="resume"):
        train(supervised_run.path, "weak", data=tiny_root, epochs=1, verbose=0, model_config=TINY_MODEL)
    assert (supervised_run.path / "config.json").read_text() == before


def test_bad_data_fails_before_a_run_folder_is_written(tiny_copy, tmp_path):
    (tiny_copy / "audio_feature.h5").unlink()
    with pytest.raises(FileNotFoundError, match="audio_feature.h5"):
        train(tmp_path / "run", "supervised", data=tiny_copy, epochs=1, verbose=0)
    assert not (tmp_path / "run").exists()


def test_invalid_regime_and_variant_pair_leaves_nothing(tiny_root, tmp_path):
    with pytest.raises(ValueError, match="Preset 'audio' .* supports the regimes"):
        train(tmp_path / "run", "unsupervised", "audio", data=tiny_root, epochs=1, verbose=0)
    assert not (tmp_path / "run").exists()


class _Killed(Exception):
    pass


class _KillAfterFirstEpoch(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        raise _Killed()


class _EpochsBegun(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.epochs = []

    def on_epoch_begin(self, epoch, logs=None):
        self.epochs.append(epoch)


def test_resume_continues_after_the_last_completed_epoch(tiny_root, tmp_path):
    run_dir = tmp_path / "run"
    with pytest.raises(_Killed):
        train(run_dir, "weak", "audio", data=tiny_root, epochs=3, verbose=0,
              callbacks=[_KillAfterFirstEpoch()], model_config=TINY_MODEL)
    interrupted = json.loads((run_dir / "metrics.json").read_text())
    assert not interrupted["completed"] and len(interrupted["history"]) == 1
    assert (run_dir / "best.keras").is_file() and (run_dir / "backup").is_dir()
    begun = _EpochsBegun()
    run = train(run_dir, resume=True, verbose=0, callbacks=[begun])
    assert begun.epochs == [1, 2]  # epoch 0 is not trained again
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["completed"] and [e["epoch"] for e in metrics["history"]] == [1, 2, 3]
    assert (run_dir / "backup").is_dir()  # kept: more epochs can extend the run
    assert run.variant == "audio" and run.regime == "weak"
    # A completed run resumes to itself without training.
    again = _EpochsBegun()
    train(run_dir, resume=True, verbose=0, callbacks=[again])
    assert again.epochs == []
    # More epochs extend it, from its last epoch.
    extended = _EpochsBegun()
    train(run_dir, resume=True, epochs=4, verbose=0, callbacks=[extended])
    assert extended.epochs == [3]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["completed"] and [e["epoch"] for e in metrics["history"]] == [1, 2, 3, 4]
    assert json.loads((run_dir / "config.json").read_text())["training"]["epochs"] == 4


@pytest.fixture(scope="module")
def interrupted_run(tiny_root, tmp_path_factory):
    """A weak run killed after its first of three epochs."""
    run_dir = tmp_path_factory.mktemp("interrupted") / "run"
    with pytest.raises(_Killed):
        train(run_dir, "weak", "audio", data=tiny_root, epochs=3, verbose=0,
              callbacks=[_KillAfterFirstEpoch()], model_config=TINY_MODEL)
    return run_dir


def _snapshot(folder):
    return {path.relative_to(folder): path.read_bytes()
            for path in sorted(folder.rglob("*")) if path.is_file()}


def _truncated(data):
    return data[: len(data) // 2]


@pytest.mark.parametrize("name, corrupt", [
    ("config.json", lambda data: b"{\"regime\": \"weak\", "),
    ("config.json", lambda data: b"{\"regime\": \"weak\"}"),
    ("metrics.json", lambda data: b"{\"history\": [1, 2"),
    ("metrics.json", lambda data: b"{\"history\": [{\"loss\": 1.0}]}"),
    ("best.keras", _truncated),
    ("best.keras", lambda data: b"not a zip file"),
    ("backup/state.npz", _truncated),
])
def test_resume_of_a_damaged_run_names_the_file_and_changes_nothing(
        interrupted_run, tmp_path, name, corrupt):
    import shutil

    run_dir = shutil.copytree(interrupted_run, tmp_path / "run")
    (run_dir / name).write_bytes(corrupt((run_dir / name).read_bytes()))
    before = _snapshot(run_dir)
    with pytest.raises(ValueError, match=str(run_dir / name)):
        train(run_dir, resume=True, verbose=0)
    assert _snapshot(run_dir) == before


def test_resume_without_the_best_checkpoint_names_it(interrupted_run, tmp_path):
    import shutil

    run_dir = shutil.copytree(interrupted_run, tmp_path / "run")
    (run_dir / "best.keras").unlink()
    before = _snapshot(run_dir)
    with pytest.raises(FileNotFoundError, match=str(run_dir / "best.keras")):
        train(run_dir, resume=True, verbose=0)
    assert _snapshot(run_dir) == before


@pytest.fixture(scope="module")
def runs_of_every_regime(tiny_root, tmp_path_factory):
    folder = tmp_path_factory.mktemp("regimes")
    return {regime: train(folder / regime, regime, data=tiny_root, epochs=1, verbose=0,
                          model_config=TINY_MODEL)
            for regime in ("supervised", "weak", "unsupervised")}


@pytest.mark.usefixtures("tf_functions_eagerly")
@pytest.mark.parametrize("split", ["train", "val", "test"])
@pytest.mark.parametrize("regime", ["supervised", "weak", "unsupervised"])
def test_evaluate_scores_the_videos_of_the_split(runs_of_every_regime, tiny_root, regime, split):
    from keras_avl.models import inference_model

    run = runs_of_every_regime[regime]
    result = evaluate(run, split, record=False)
    order = read_h5(tiny_root / f"{split}_order.h5", "order")
    with h5py.File(tiny_root / "visual_feature.h5") as handle:
        visual = handle["avadataset"][()][order]
    inputs = {"visual": visual, "audio": read_h5(tiny_root / "audio_feature.h5")[order]}
    if regime == "unsupervised":  # the negative audio does not reach lambda
        inputs["audio_negative"] = inputs["audio"]
    true = read_h5(tiny_root / "labels.h5")[order].argmax(-1)
    outputs = inference_model(run.load_model()).predict(inputs, verbose=0)
    event = true != 4
    assert result["pointing_game_segments"] == int(event.sum())
    regions = read_h5(tiny_root / "regions.h5")[order]
    attention = outputs["spatial_attention"].reshape(*true.shape, -1)
    hits = np.take_along_axis(regions.reshape(*true.shape, -1), attention.argmax(-1)[..., None],
                              -1)[..., 0]
    assert result["pointing_game"] == pytest.approx(hits[event].mean())
    if regime == "unsupervised":
        assert result["segment_accuracy"] is None
        return
    predicted = outputs["segment_probabilities"].argmax(-1)
    assert np.sum(result["confusion_matrix"]) == true.size
    assert result["segment_accuracy"] == pytest.approx(np.mean(predicted == true))
def test_evaluate_reports_ciou_beside_the_pointing_game(supervised_run):
    result = evaluate(supervised_run, record=False)
    assert result["localization_note"] is None
    assert result["ciou_segments"] == result["pointing_game_segments"] > 0
    for key in ("ciou", "ciou_ap50", "ciou_auc", "ciou_chance", "ciou_ap50_chance",
                "ciou_auc_chance", "ciou_ap50_ceiling"):
        assert 0 <= result[key] <= 1, key
    assert result["ciou_definition"]["image_size"] == [224, 224]
    assert result["ciou_definition"]["ground_truth"].startswith("regions.h5")


def test_evaluate_reads_boxes_json_when_the_dataset_has_one(supervised_run, tiny_copy):
    """Boxes drawn on the cell blocks of regions.h5 (a 224 x 224 frame, one
    annotator: their union) give the cell regions' cIoU; a video of the split
    without boxes is a clear error."""
    from keras_avl.data import read_annotations

    regions = read_h5(tiny_copy / "regions.h5")
    annotations = read_annotations(tiny_copy / "Annotations.txt")
    boxes = {}
    for video, region in zip(annotations.video_ids, regions):
        segments = []
        for cells in region:
            rows, columns = np.nonzero(cells)
            segments.append([[32 * int(columns.min()), 32 * int(rows.min()),
                              32 * int(columns.max() + 1), 32 * int(rows.max() + 1)]]
                            if rows.size else [])
        boxes[video] = {"frame_size": [224, 224], "annotators": [segments]}
    (tiny_copy / "boxes.json").write_text(json.dumps(boxes))
    with_cells = evaluate(supervised_run, record=False)
    with_boxes = evaluate(supervised_run, data=tiny_copy, record=False)
    assert with_boxes["ciou_definition"]["ground_truth"].startswith("boxes.json")
    for key in ("ciou", "ciou_ap50", "ciou_auc", "ciou_chance", "ciou_segments"):
        assert with_boxes[key] == pytest.approx(with_cells[key], abs=1e-12), key
    order = read_h5(tiny_copy / "test_order.h5", "order")
    labels = read_h5(tiny_copy / "labels.h5")
    scored = next(int(row) for row in order if (labels[row].argmax(-1) != 4).any())
    del boxes[annotations.video_ids[scored]]
    (tiny_copy / "boxes.json").write_text(json.dumps(boxes))
    with pytest.raises(ValueError, match="boxes.json.*missing"):
        evaluate(supervised_run, data=tiny_copy, record=False)


def test_localization_is_n_a_with_a_reason_not_a_crash(tiny_root, tiny_copy, tmp_path):
    audio = train(tmp_path / "audio", "supervised", "audio", data=tiny_root, epochs=1,
                  verbose=0, model_config=TINY_MODEL)
    result = evaluate(audio, record=False)
    assert result["ciou"] is None and result["pointing_game"] is None
    assert "'audio' has no spatial attention" in result["localization_note"]
    assert result["segment_accuracy"] is not None
    (tiny_copy / "regions.h5").unlink()
    run = load_run(tmp_path / "audio")
    without_regions = evaluate(run, data=tiny_copy, record=False)
    assert "no ground-truth regions" in without_regions["localization_note"]
    assert without_regions["ciou_auc"] is None


def test_official_avatt_weak_trains_with_its_protocol(tiny_root, tmp_path):
    run = train(tmp_path / "avatt", "weak", "avatt", data=tiny_root, epochs=1, verbose=0,
                model_config=TINY_AVATT)
    recorded = json.loads((run.path / "config.json").read_text())
    config, training = recorded["model_config"], recorded["training"]
    assert (recorded["method"], config["reading"], config["dropout"]) == ("avatt", "released", 0.0)
    # The preset's default recipe: its loss and StepLR, for the epochs given.
    assert (training["protocol"], training["epochs"]) == ("ave-eccv18-weak", 1)
    assert (training["step_lr"], training["loss"]) == ([15000, 0.1], "multilabel-soft-margin")
    assert run.load_model().loss.__name__ == "multilabel_soft_margin_loss"
    # A fresh process loads the checkpoint compiled with StepLR (registered
    # by importing keras_avl.models, not only by the training protocols).
    code = ("import keras, keras_avl.runs; "
            f"print(keras.saving.load_model({str(run.best_model_path)!r}).optimizer"
            ".get_config()['learning_rate']['class_name'])")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert loaded.stdout.strip().endswith("StepLR"), loaded.stderr[-2000:]
    result = evaluate(run, record=False)
    assert 0 <= result["segment_accuracy"] <= 1
    assert result["localization_note"] is None and 0 <= result["ciou"] <= 1
    # A run folder written before the protocol left the model's config still loads.
    recorded["model_config"]["protocol"] = "ave-eccv18"
    recorded["training"] = {"epochs": 1, "batch_size": 64, "learning_rate": 1e-3, "seed": 0,
                            "jit_compile": run.training.jit_compile, "deterministic": True}
    (run.path / "config.json").write_text(json.dumps(recorded))
    legacy = load_run(run.path)
    assert legacy.training == run.training
    assert evaluate(legacy, record=False)["segment_accuracy"] == result["segment_accuracy"]
def test_unsupervised_split_it_cannot_use_leaves_nothing(tiny_copy, tmp_path):
    write_h5(tiny_copy / "val_order.h5", np.array([0], np.int64), key="order")
    with pytest.raises(ValueError, match="'val' split of at least 2 videos, found 1"):
        train(tmp_path / "run", "unsupervised", data=tiny_copy, epochs=1, verbose=0,
              model_config=TINY_MODEL)
    assert not (tmp_path / "run").exists()


def test_other_class_negatives_need_two_classes(tiny_copy, tmp_path):
    labels = read_h5(tiny_copy / "mil_labels.h5")
    write_h5(tiny_copy / "mil_labels.h5",
             np.eye(labels.shape[1], dtype=labels.dtype)[np.zeros(len(labels), int)])
    with pytest.raises(ValueError, match="another class"):
        train(tmp_path / "run", "unsupervised", "fusion-mfb-other-class", data=tiny_copy,
              epochs=1, verbose=0, model_config=TINY_MODEL)
    assert not (tmp_path / "run").exists()
