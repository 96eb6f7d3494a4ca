"""benchmarks/gpu_suite.sh runs end to end on a CPU in --smoke mode and writes
its JSON results; the device-resident trainer refuses an unknown device and
features that do not fit, before training."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

jax = pytest.importorskip("jax")
BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))
import resident_jax  # noqa: E402


def test_unknown_device_is_refused():
    with pytest.raises(ValueError, match="--device 'tpu': JAX has no such device here; available"):
        resident_jax.device_of("tpu")


def test_features_that_do_not_fit_are_refused(monkeypatch):
    device = jax.devices("cpu")[0]
    monkeypatch.setattr(resident_jax, "free_device_bytes", lambda device: 3 * 2**30)
    with pytest.raises(ValueError, match=r"need 2.00 GiB on .* but 3.00 GiB is free"):
        resident_jax.check_fits(2 * 2**30, device)
    assert resident_jax.check_fits(2**30, device) == 3 * 2**30


@pytest.mark.slow  # long end to end; `bash scripts/test.sh --all` runs it
def test_smoke_suite_writes_every_result(tmp_path):
    env = {**os.environ, "PYTHON": sys.executable, "KERAS_AVL_HOME": str(tmp_path / "home"),
           "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(["bash", str(BENCHMARKS / "gpu_suite.sh"), "--smoke", str(tmp_path / "out")],
                          env=env, capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stderr[-3000:]
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == sorted(["mfb_gpu_jax.json", "train_gpu_jax.json", "train_ave_gpu_jax.json"] + [
        f"resident_{v}_{p}.json" for v in ("paper", "avatt") for p in ("float32", "bfloat16")])
    train = json.loads((tmp_path / "out" / "train_gpu_jax.json").read_text())
    assert train["backend"] == "jax" and len(train["results"]) == 8
    assert all(r["videos_per_second"] > 0 and r["flops_per_step"] > 0 for r in train["results"])
    ave = json.loads((tmp_path / "out" / "train_ave_gpu_jax.json").read_text())
    # Under JAX the XLA variants are the plain ones: paper, avatt, psp, cmbs x float32 / bf16.
    assert sorted(r["variant"] for r in ave["results"]) == sorted(2 * ["paper", "avatt", "psp", "cmbs"])
    assert all(0 < r["share_of_matmul_peak"] for r in ave["results"])
    assert "no released checkouts given" in done.stdout
    resident = json.loads((tmp_path / "out" / "resident_paper_bfloat16.json").read_text())
    assert resident["bf16"] and resident["videos_per_second"] > 0


def test_generated_features_have_aves_shapes():
    import bench_pytorch_loops as loops

    visual, audio, labels = loops.generated(3, 2, seed=0, dtype="float64")
    assert visual.shape == (6, 10, 7, 7, 512) and audio.shape == (6, 10, 128)
    assert labels.shape == (6, 10, 29) and visual.dtype == labels.dtype == "float64"
    # one class per segment: an event class or the background (28)
    assert (labels.sum(-1) == 1).all()
    events = labels[..., :28].argmax(-1)[labels[..., :28].sum(-1) > 0]
    assert events.size > 0


def test_released_loops_need_their_checkouts_only_for_their_rows():
    import bench_pytorch_loops as loops

    assert set(loops.KERAS_METHODS) == {"avatt", "avatt-adam", "paper", "psp", "cmbs"}
    assert {versus for versus, _, _ in loops.KERAS_METHODS.values()} <= set(loops.TORCH_LOOPS)
    with pytest.raises(SystemExit):
        loops.main(["--smoke"])  # --out is required


@pytest.mark.multibackend  # the JAX stage of CI is the one with JAX installed
@pytest.mark.parametrize("method", ["avatt", "psp", "cmbs"])
def test_keras_rows_train_under_their_released_recipes(method):
    """Each keras-avl row of the side-by-side builds under its protocol (and
    CMBS in float64 too) and returns steady-state step times."""
    import bench_pytorch_loops as loops

    _, protocol, _ = loops.KERAS_METHODS[method]
    for setting in ["float32"] + (["float64"] if method == "cmbs" else []):
        model, options, run = loops.keras_runner(method, protocol, 4, setting, 3, smoke=True)
        assert options["protocol"] == protocol and options.get("policy") == (
            "float64" if setting == "float64" else None)
        times = run()
        assert len(times) == 2 and all(t > 0 for t in times)
