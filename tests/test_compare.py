"""`compare` with several seeds: seed parsing, mean ± std over the per-seed
evaluations, per-seed run folders, resume, and determinism per seed."""

import json
import shlex
import shutil
import statistics
import sys
from pathlib import Path

import pytest

from keras_avl.cli.main import main
from keras_avl.training import compare
from keras_avl.training.compare import parse_seeds, resolve_seeds, summarize
from tests.ave_fixtures import TINY_MODEL, tiny_root  # noqa: F401

SETS = [word for key, value in TINY_MODEL.items() for word in ("--set", f"{key}={value}")]


def test_seeds_as_a_count_or_a_list():
    assert parse_seeds("3") == [0, 1, 2]
    assert parse_seeds("0,4,7") == [0, 4, 7]
    assert parse_seeds(" 5 , 2") == [5, 2]
    assert resolve_seeds(None, seed=4) == [4]
    assert resolve_seeds((1, 2)) == [1, 2]


@pytest.mark.parametrize("text, message", [
    ("0", "count >= 1"),
    ("-2", "count >= 1"),
    ("1,1", r"distinct.*repeated: \[1\]"),
    ("0,-1", "seeds >= 0"),
    ("a", "--seeds expects a count"),
    ("1,,2", "--seeds expects a count"),
])
def test_bad_seeds_are_clear_errors(text, message):
    with pytest.raises(ValueError, match=message):
        parse_seeds(text)


def test_seeds_and_seed_together_are_refused():
    with pytest.raises(ValueError, match="either `seeds` or `seed`"):
        resolve_seeds(3, seed=2)
    with pytest.raises(ValueError, match="seeds"):
        resolve_seeds(True)


def test_summarize_hand_computed():
    summary = summarize([0.5, 0.6, 0.8])
    assert summary["mean"] == pytest.approx(19 / 30)
    # sample variance: ((-4/30)^2 + (-1/30)^2 + (5/30)^2) / 2 = 42/1800
    assert summary["std"] == pytest.approx((42 / 1800) ** 0.5)
    assert (summary["n"], summary["values"]) == (3, [0.5, 0.6, 0.8])
    assert summarize([0.5])["std"] is None
    assert summarize([0.5, None])["mean"] is None


def test_bad_seeds_fail_before_any_training(tiny_root, tmp_path, capsys):
    runs = tmp_path / "runs"
    code = main(["compare", "--models", "audio", "--data", str(tiny_root), "--epochs", "1",
                 "--seeds", "2,2", "--runs-dir", str(runs), "--verbose", "0"])
    assert code == 2
    assert "distinct" in capsys.readouterr().err
    assert not runs.exists()
    with pytest.raises(ValueError, match="count >= 1"):
        compare(runs, models=["audio"], data=tiny_root, epochs=1, verbose=0, seeds=0)
    assert not runs.exists()


@pytest.fixture(scope="module")
def two_seeds(tiny_root, tmp_path_factory):
    root = tmp_path_factory.mktemp("compare")
    output = root / "table.md"
    code = main(["compare", "--models", "paper", "--regimes", "supervised",
                 "--data", str(tiny_root), "--epochs", "2", "--seeds", "0,3",
                 "--runs-dir", str(root / "runs"), "--output", str(output), "--verbose", "0",
                 *SETS])
    assert code == 0
    return root, output


@pytest.mark.slow  # long end to end; `bash scripts/test.sh --all` runs it
def test_rows_are_mean_and_std_of_the_per_seed_evaluations(two_seeds):
    root, output = two_seeds
    row, = json.loads(output.with_suffix(".json").read_text())
    assert row["seeds"] == [0, 3]
    evaluations = []
    for seed, run in zip((0, 3), row["per_seed"]):
        run_dir = root / "runs" / "supervised-paper" / f"seed{seed}"
        assert run["run_dir"] == str(run_dir) and run["seed"] == seed
        config = json.loads((run_dir / "config.json").read_text())
        assert config["training"]["seed"] == seed and config["training"]["deterministic"]
        metrics = json.loads((run_dir / "metrics.json").read_text())
        # The checkpoint is the epoch of best validation accuracy.
        val = [entry["val_categorical_accuracy"] for entry in metrics["history"]]
        assert run["best_epoch"] == 1 + val.index(max(val))
        evaluations.append(metrics["evaluation"]["test"])
    for key in ("segment_accuracy", "pointing_game", "ciou", "ciou_ap50", "ciou_auc"):
        values = [evaluation[key] for evaluation in evaluations]
        assert row[key]["values"] == values
        assert row[key]["mean"] == pytest.approx(statistics.fmean(values))
        assert row[key]["std"] == pytest.approx(statistics.stdev(values))
    table = output.read_text()
    accuracy = row["segment_accuracy"]
    assert (f"| supervised | paper | {100 * accuracy['mean']:.1f} ± "
            f"{100 * accuracy['std']:.1f} (2 seeds) |") in table
    assert "--seeds 0,3" in table
    assert f"Scored on the {row['split']} split; every run's epoch selected on val." in table


@pytest.mark.slow  # long end to end; `bash scripts/test.sh --all` runs it
def test_resume_reuses_the_finished_seeds(two_seeds, tiny_root):
    root, output = two_seeds
    run_dir = root / "runs" / "supervised-paper" / "seed3"
    before = (run_dir / "best.keras").stat().st_mtime_ns
    rows = compare(root / "runs", models=["paper"], data=tiny_root, epochs=2, seeds=[0, 3],
                   resume=True, verbose=0, model_config=TINY_MODEL)
    assert (run_dir / "best.keras").stat().st_mtime_ns == before
    stored = json.loads(output.with_suffix(".json").read_text())[0]
    assert rows[0]["segment_accuracy"] == stored["segment_accuracy"]


@pytest.mark.slow  # long end to end; `bash scripts/test.sh --all` runs it
def test_the_row_command_reproduces_the_row_exactly(two_seeds):
    """Deterministic per seed: retraining from the row's command gives the
    same per-seed values, bit for bit."""
    root, output = two_seeds
    row, = json.loads(output.with_suffix(".json").read_text())
    shutil.rmtree(root / "runs")
    again = root / "again.md"
    words = shlex.split(row["command"])[1:] + ["--output", str(again), "--verbose", "0"]
    assert main(words) == 0
    repeated, = json.loads(again.with_suffix(".json").read_text())
    for key in ("segment_accuracy", "pointing_game", "ciou", "ciou_auc"):
        assert repeated[key]["values"] == row[key]["values"], key


# --- resumable compare: recorded settings checked, progress, kills, full disk

AUDIO = dict(models=["audio"], epochs=1, verbose=2, seeds=2, model_config=TINY_MODEL)


@pytest.fixture(scope="module")
def audio_table(tiny_root, tmp_path_factory):
    """An uninterrupted `compare` of 2 seeds, and its table."""
    root = tmp_path_factory.mktemp("audio")
    rows = compare(root / "runs", data=tiny_root, output=root / "table.md", **AUDIO)
    return root, rows


def test_a_compare_killed_mid_evaluation_resumes_to_the_same_table(
        audio_table, tiny_root, tmp_path, monkeypatch, capsys):
    root, rows = audio_table
    module = sys.modules["keras_avl.training.compare"]  # the package exports the function

    evaluate, calls = module.evaluate, []

    def killed_at_the_second(run, split):
        calls.append(run.path)
        if len(calls) == 2:
            raise KeyboardInterrupt  # as a kill: nothing after it runs
        return evaluate(run, split)

    monkeypatch.setattr(module, "evaluate", killed_at_the_second)
    with pytest.raises(KeyboardInterrupt):  # in this process, where the patch applies
        compare(tmp_path / "runs", data=tiny_root, output=tmp_path / "table.md",
                isolate_runs=False, **AUDIO)
    assert not (tmp_path / "table.md").exists()
    monkeypatch.setattr(module, "evaluate", evaluate)
    capsys.readouterr()
    again = compare(tmp_path / "runs", data=tiny_root, output=tmp_path / "table.md",
                    resume=True, **AUDIO)
    assert [row["segment_accuracy"] for row in again] == [rows[0]["segment_accuracy"]]
    assert (tmp_path / "table.md").read_text().replace(str(tmp_path), "X") == \
        (root / "table.md").read_text().replace(str(root), "X")
    out = capsys.readouterr().out
    assert "[1/2] supervised-audio seed 0: reused" in out
    assert "[2/2] supervised-audio seed 1: reused" in out and "ETA" in out


def test_runs_in_fresh_processes_equal_runs_in_this_one(
        audio_table, tiny_root, tmp_path, monkeypatch):
    """The table's runs (`audio_table`: one fresh process per run, the
    default) are those of a compare of the same runs in this process; and
    the default never trains in the caller's process."""
    root, rows = audio_table
    module = sys.modules["keras_avl.training.compare"]
    here = compare(tmp_path / "runs", data=tiny_root, isolate_runs=False, **AUDIO)
    for key in ("segment_accuracy", "per_seed"):
        assert [json.dumps(row[key], default=str).replace(str(tmp_path), "X") for row in here] \
            == [json.dumps(row[key], default=str).replace(str(root), "X") for row in rows]

    def not_here(*args, **kwargs):
        raise AssertionError("trained in the caller's process")

    monkeypatch.setattr(module, "train", not_here)
    again = compare(tmp_path / "fresh", data=tiny_root, **{**AUDIO, "seeds": 1})
    assert again[0]["segment_accuracy"]["values"] == rows[0]["segment_accuracy"]["values"][:1]


def test_runs_trained_with_a_protocol_resume(tiny_root, tmp_path):
    """A protocol's tuples are lists in config.json, and its batch size is
    not the table's: still the same settings."""
    settings = dict(models=["audio"], protocol="ave-eccv18-supervised", epochs=1, seeds=1,
                    verbose=0, batch_size=32, model_config=TINY_MODEL)  # the protocol's batch: 64
    first = compare(tmp_path / "runs", data=tiny_root, **settings)
    again = compare(tmp_path / "runs", data=tiny_root, resume=True, **settings)
    assert again[0]["segment_accuracy"] == first[0]["segment_accuracy"]


def test_recorded_runs_of_other_settings_are_clear_errors(audio_table, tiny_root, tmp_path):
    root, _ = audio_table
    runs = tmp_path / "runs"
    shutil.copytree(root / "runs", runs)
    seed0 = runs / "supervised-audio" / "seed0"
    before = {p: p.read_bytes() for p in seed0.rglob("*") if p.is_file()}
    with pytest.raises(ValueError, match=r"seed0: .*training.epochs: recorded 1, this table 2"):
        compare(runs, data=tiny_root, resume=True, **{**AUDIO, "epochs": 2})
    config = json.loads((seed0 / "config.json").read_text())
    (seed0 / "config.json").write_text(json.dumps({**config, "variant": "visual"}))
    with pytest.raises(ValueError,
                       match=r"seed0: .*variant: recorded 'visual', this table 'audio'"):
        compare(runs, data=tiny_root, resume=True, **AUDIO)
    (seed0 / "config.json").write_bytes(before[seed0 / "config.json"])
    (seed0 / "metrics.json").unlink()
    with pytest.raises(ValueError, match=r"seed0.*metrics.json records 0 epochs"):
        compare(runs, data=tiny_root, resume=True, **AUDIO)
    for path, content in before.items():  # nothing finished was overwritten
        if path.name != "metrics.json":
            assert path.read_bytes() == content, path


def test_a_full_disk_while_the_table_is_written_leaves_the_old_table(
        audio_table, tiny_root, tmp_path, monkeypatch):
    import errno
    import pathlib

    root, _ = audio_table
    shutil.copytree(root, tmp_path / "copy")
    table = tmp_path / "copy" / "table.md"
    old = (table.read_text(), table.with_suffix(".json").read_text())
    write_text = pathlib.Path.write_text

    def full(self, *args, **kwargs):
        if self.name.startswith(".table.json"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return write_text(self, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "write_text", full)
    with pytest.raises(OSError,
                       match="No space left on device while writing .*re-run with --resume"):
        compare(tmp_path / "copy" / "runs", data=tiny_root, output=table, resume=True, **AUDIO)
    assert (table.read_text(), table.with_suffix(".json").read_text()) == old
    assert sorted(p.name for p in table.parent.iterdir()) == ["runs", "table.json", "table.md"]


@pytest.mark.slow  # ~2 min: a compare of 2 runs, then each run alone
def test_each_recorded_train_command_reproduces_its_row_alone(tiny_root, tmp_path):
    """A short and a long run in one process (the kernel choice does not
    depend on either), then each recorded `train_command` alone."""
    rows = [compare(tmp_path / f"runs{epochs}", models=["paper"], data=tiny_root, epochs=epochs,
                    verbose=0, seeds=[1], model_config=TINY_MODEL)[0] for epochs in (2, 4)]
    for row in rows:
        run, = row["per_seed"]
        words = shlex.split(run["train_command"])[1:]
        alone = tmp_path / f"alone{row['epochs']}"
        words[words.index("--run-dir") + 1] = str(alone)
        assert main(words + ["--verbose", "0"]) == 0
        assert main(["evaluate", str(alone), "--split", "test"]) == 0
        metrics = json.loads((alone / "metrics.json").read_text())
        recorded = json.loads((Path(run["run_dir"]) / "metrics.json").read_text())
        assert metrics["history"] == recorded["history"]
        assert metrics["evaluation"]["test"]["segment_accuracy"] == run["segment_accuracy"]


def test_a_compare_killed_at_a_random_moment_resumes_to_the_same_table(
        audio_table, tiny_root, tmp_path):
    """`kill -9` of the whole `keras-avl compare` (its run's process dies with
    it) at a random moment, then `--resume`: the uninterrupted table."""
    import os
    import random
    import signal
    import subprocess
    import time

    root, _ = audio_table
    words = [sys.executable, "-m", "keras_avl.cli.main", "compare", "--models", "audio",
             "--data", str(tiny_root), "--epochs", "1", "--seeds", "2", "--verbose", "0",
             "--runs-dir", str(tmp_path / "runs"), "--output", str(tmp_path / "table.md"),
             *SETS]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    killed = subprocess.Popen(words, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)

    def processes():  # the compare's children: a run's process, the resource tracker
        listed = Path(f"/proc/{killed.pid}/task/{killed.pid}/children")
        return listed.read_text().split() if listed.exists() else []

    def alive(pid):
        status = Path(f"/proc/{pid}/status")
        return status.exists() and "\nState:\tZ" not in status.read_text()

    started = time.monotonic()
    while len(processes()) < 2 and time.monotonic() - started < 120:
        time.sleep(0.2)  # until the first run's process is up
    moment = random.Random().uniform(0.0, 8.0)  # a new moment at every run of the suite
    time.sleep(moment)
    children = processes()
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    time.sleep(2)  # its run's process receives the parent-death signal
    assert children, "the compare ended before it could be killed"
    assert not [pid for pid in children if alive(pid)], \
        f"killed {moment:.1f} s into its runs: a process of the compare lives on"
    resumed = subprocess.run(words + ["--resume"], env=env, capture_output=True, text=True,
                             timeout=600)
    assert resumed.returncode == 0, (moment, resumed.stderr[-3000:])
    assert (tmp_path / "table.md").read_text().replace(str(tmp_path), "X") == \
        (root / "table.md").read_text().replace(str(root), "X"), f"killed {moment:.1f} s into its runs"
