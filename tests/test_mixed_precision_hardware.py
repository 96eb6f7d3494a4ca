"""`--mixed-precision` where bfloat16 does not pay: refused on a CPU without
bfloat16 hardware before anything is written, a warning on JAX's CPU."""

import warnings

import pytest

from keras_avl import precision
from keras_avl.precision import check_mixed_precision, cpu_flags


def test_cpu_without_bf16_hardware_is_refused():
    with pytest.raises(ValueError, match="no bfloat16 hardware.*amx_bf16.*avx512_bf16"):
        check_mixed_precision(gpu=False, flags={"avx2", "avx512f"}, backend="tensorflow")


def test_bf16_hardware_is_reported_and_gpu_is_not_checked():
    flags = {"avx2", "amx_bf16", "amx_tile", "avx512_bf16"}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert check_mixed_precision(gpu=False, flags=flags, backend="tensorflow") == [
            "amx_bf16", "avx512_bf16"]
        assert check_mixed_precision(gpu=True, flags=set(), backend="tensorflow") == []


def test_jax_cpu_warns_that_xla_does_not_use_the_units():
    with pytest.warns(UserWarning, match="XLA's CPU code does not use the bfloat16 units"):
        check_mixed_precision(gpu=False, flags={"avx512_bf16"}, backend="jax")


def test_cpu_flags_reads_the_flags_line(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("model name\t: X\nflags\t\t: fpu avx2 amx_bf16\n")
    assert cpu_flags(str(cpuinfo)) == {"fpu", "avx2", "amx_bf16"}
    assert cpu_flags(str(tmp_path / "missing")) is None


def test_train_refuses_before_writing_the_run_folder(monkeypatch, tmp_path):
    from keras_avl.training import train

    monkeypatch.setattr(precision, "cpu_flags", lambda: {"avx2"})
    monkeypatch.setattr(precision, "has_gpu", lambda: False)
    with pytest.raises(ValueError, match="no bfloat16 hardware"):
        train(tmp_path / "run", "supervised", epochs=1, verbose=0, embedded_size="tiny",
              mixed_precision=True)
    assert not (tmp_path / "run").exists()


def test_tune_refuses_before_writing_its_folder(monkeypatch, tmp_path):
    from keras_avl.tuning import tune

    monkeypatch.setattr(precision, "cpu_flags", lambda: {"avx2"})
    monkeypatch.setattr(precision, "has_gpu", lambda: False)
    with pytest.raises(ValueError, match="no bfloat16 hardware"):
        tune(tmp_path / "search", "supervised", max_trials=1, epochs=1,
             embedded_size="tiny", mixed_precision=True)
    assert not (tmp_path / "search").exists()
