"""`extract`'s precision, batching and background decoding: bfloat16
features stored like float32 ones and close to them, frames of several
videos per VGG-19 pass, a decoding thread that changes no bit, the
`--precision` error, the progress line (tiny clips, random weights)."""

import io
import json

import h5py
import numpy as np
import pytest

from keras_avl.cli.main import main
from keras_avl.features import ExtractionSettings, FeatureExtractor, extract_dataset, read_clips
from keras_avl.features import ave_extraction
from keras_avl.features.extractor import check_precision
from keras_avl.precision import BF16_CPU_FLAGS, cpu_flags, has_gpu
from tests.features_media import make_video

T = 2
# ||f_bf16 - f_fp32|| / ||f_fp32|| allowed per segment; measured on random
# weights by benchmarks/bench_extract.py: about 0.009 (pool5), 0.007 (VGGish).
BF16_TOLERANCE = 0.03


def settings(**changes):
    return ExtractionSettings(segments=T, frames_per_segment=1, visual_weights="random",
                              vggish_weights="random", **changes)


def stored(out):
    arrays = {}
    for name in ("visual_feature.h5", "audio_feature.h5", "segment_mask.h5"):
        with h5py.File(out / name) as f:
            arrays[name] = f["avadataset"][...]
    return arrays


def relative_errors(found, reference):
    flat_found, flat_reference = found.reshape(-1, found[0, 0].size), reference.reshape(-1, reference[0, 0].size)
    norms = np.linalg.norm(flat_reference, axis=1)
    real = norms > 0
    return np.linalg.norm(flat_found - flat_reference, axis=1)[real] / norms[real]


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("videos")
    make_video(folder / "a.mp4", seconds=2, tone=440)
    make_video(folder / "b.mp4", seconds=2, tone=660)
    make_video(folder / "c.mp4", seconds=1.5, tone=880)  # a padded second segment
    make_video(folder / "mute.mp4", seconds=2, audio=None)
    return folder


@pytest.fixture(scope="module")
def float32_extractor():
    import keras

    keras.utils.set_random_seed(0)
    return FeatureExtractor("random", "random", batch_size=3)


bf16_hardware = pytest.mark.skipif(
    not has_gpu() and not set(BF16_CPU_FLAGS) & (cpu_flags() or set()),
    reason="bfloat16 is refused on a CPU without bf16 units",
)


@bf16_hardware
def test_bfloat16_features_are_stored_as_float32_and_close(videos, float32_extractor, tmp_path):
    bf16 = FeatureExtractor("random", "random", batch_size=3, precision="bfloat16")
    bf16.visual_model.set_weights(float32_extractor.visual_model.get_weights())
    bf16.audio_model.set_weights(float32_extractor.audio_model.get_weights())
    assert bf16.visual_model.get_layer("vgg19").layers[1].compute_dtype == "bfloat16"
    extract_dataset([videos], tmp_path / "f32", settings(), extractor=float32_extractor, progress=False)
    extract_dataset([videos], tmp_path / "bf16", settings(precision="bfloat16"), extractor=bf16,
                    progress=False)
    reference, found = stored(tmp_path / "f32"), stored(tmp_path / "bf16")
    for name in reference:
        assert found[name].shape == reference[name].shape and found[name].dtype == np.float32
    np.testing.assert_array_equal(found["segment_mask.h5"], reference["segment_mask.h5"])
    for name in ("visual_feature.h5", "audio_feature.h5"):
        errors = relative_errors(found[name], reference[name])
        assert len(errors) == 5 and errors.max() < BF16_TOLERANCE, (name, errors)
        assert errors.max() > 0  # it did compute in bfloat16
    assert json.loads((tmp_path / "bf16" / "extraction.json").read_text())["precision"] == "bfloat16"


def test_overlapped_decoding_is_bit_equal_and_batches_span_videos(videos, float32_extractor, tmp_path,
                                                                  monkeypatch):
    sizes = []
    predict = float32_extractor.visual_model.predict_on_batch

    def counted(frames):
        sizes.append(len(frames))
        return predict(frames)

    monkeypatch.setattr(float32_extractor.visual_model, "predict_on_batch", counted)
    extract_dataset([videos], tmp_path / "sequential", settings(), extractor=float32_extractor,
                    progress=False, prefetch=0)
    # a, b, c: 2 + 2 + 1 real frames in passes of 3, across videos.
    assert sizes == [3, 2]
    extract_dataset([videos], tmp_path / "overlapped", settings(), extractor=float32_extractor,
                    progress=False, prefetch=2)
    sequential, overlapped = stored(tmp_path / "sequential"), stored(tmp_path / "overlapped")
    for name in sequential:
        np.testing.assert_array_equal(overlapped[name], sequential[name])
    assert (tmp_path / "overlapped" / "parts" / "mute.skipped").exists()
    # The same numbers as one clip at a time (the former path).
    monkeypatch.undo()
    for row, name in enumerate("abc"):
        visual, audio = float32_extractor(next(read_clips(videos / f"{name}.mp4", T, 1)))
        np.testing.assert_allclose(sequential["visual_feature.h5"][row], visual, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(sequential["audio_feature.h5"][row], audio, rtol=1e-5, atol=1e-5)


def test_decoding_errors_reach_the_caller(videos, float32_extractor, tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError("disk gone")

    monkeypatch.setattr(ave_extraction, "read_clips", broken)
    with pytest.raises(OSError, match="disk gone"):
        extract_dataset([videos], tmp_path, settings(), extractor=float32_extractor, progress=False)


def test_bad_precision_names_the_argument_and_the_choices(videos, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["extract", str(videos), "--out", str(tmp_path / "out"), "--precision", "fp8",
              "--vggish-weights", "random"])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert "--precision" in error and "fp8" in error
    assert all(choice in error for choice in ("float32", "bfloat16", "float16"))
    assert not (tmp_path / "out").exists()
    with pytest.raises(ValueError, match=r"--precision.*float32, bfloat16, float16.*'fp8'"):
        check_precision("fp8")


def test_sixteen_bit_precisions_are_refused_where_emulated():
    assert check_precision("bfloat16", gpu=False, flags={"avx512_bf16"}) == "bfloat16"
    assert check_precision("float16", gpu=True) == "float16"
    with pytest.raises(ValueError, match="bfloat16 units"):
        check_precision("bfloat16", gpu=False, flags={"avx2"})
    with pytest.raises(ValueError, match="needs a GPU"):
        check_precision("float16", gpu=False, flags={"amx_bf16"})


def test_an_extractor_of_another_precision_is_refused(videos, float32_extractor, tmp_path):
    with pytest.raises(ValueError, match="precision='bfloat16'"):
        extract_dataset([videos], tmp_path / "out", settings(precision="bfloat16"),
                        extractor=float32_extractor, progress=False)
    assert not (tmp_path / "out").exists()


def test_folders_from_before_the_precision_setting_resume_as_float32(tmp_path):
    tmp_path.joinpath("extraction.json").write_text(json.dumps(
        {k: v for k, v in settings().to_dict().items() if k != "precision"}))
    ave_extraction._check_settings(tmp_path, settings())
    with pytest.raises(ValueError, match="precision"):
        ave_extraction._check_settings(tmp_path, settings(precision="bfloat16"))


def test_progress_line_counts_videos_and_gives_an_eta(monkeypatch):
    clock = iter([0.0, 0.0, 10.0, 20.0, 30.0])
    monkeypatch.setattr(ave_extraction.time, "monotonic", lambda: next(clock))
    stream = io.StringIO()
    line = ave_extraction._Progress(4, resumed=1, stream=stream)
    line.update(extracted=1)  # t = 10 s: not a terminal, not a minute yet
    line.update(skipped=1)
    assert stream.getvalue().splitlines() == ["extract: 0/4 videos (0 skipped, 1 done before), elapsed 0m00s"]
    assert line.text() == ("extract: 2/4 videos (1 skipped, 1 done before), 0.0667 videos/s, "
                           "elapsed 0m30s, ETA 0m30s")
