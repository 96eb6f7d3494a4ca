"""PyAV decoding into one-second segments: which frames are sampled, the
16 kHz mono audio, padding and masks, windows, and the reasons a video is
unusable. Real MP4 files are written with PyAV in a temporary folder."""

import numpy as np
import pytest

from keras_avl.features import UnusableVideoError, read_audio, read_clips
from tests.features_media import bar_column, decoded_bar_columns, make_truncated, make_video

FPS, WIDTH = 10, 64


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("decoding")
    paths = {
        "four": make_video(folder / "four.mp4", seconds=4),
        "short": make_video(folder / "short.mp4", seconds=3),
        "mute": make_video(folder / "mute.mp4", seconds=4, audio=None),
        "silent": make_video(folder / "silent.mp4", seconds=4, audio="silence"),
    }
    paths["truncated"] = make_truncated(folder / "truncated.mp4", paths["four"])
    # Index first, data cut in half: the header still declares 4 s.
    streamed = make_video(folder / "streamed.mp4", seconds=4, faststart=True)
    paths["cut_tail"] = make_truncated(folder / "cut_tail.mp4", streamed, streamed.stat().st_size // 2)
    paths["text"] = folder / "notes.mp4"
    paths["text"].write_text("not a video\n")
    return paths


def test_frames_are_those_shown_at_the_sub_interval_centres(videos):
    k = 4
    clip = next(read_clips(videos["four"], segments=4, frames_per_segment=k, frame_size=(WIDTH, 48)))
    assert clip.frames.shape == (4, k, 48, WIDTH, 3) and clip.frames.dtype == np.uint8
    # The frame shown at time s is the last one with index / FPS <= s.
    times = np.arange(4)[:, None] + (np.arange(k)[None] + 0.5) / k
    expected = [[bar_column(int(np.floor(t * FPS)), 4 * FPS, WIDTH) for t in row] for row in times]
    np.testing.assert_array_equal(decoded_bar_columns(clip.frames), expected)


def test_frames_are_scaled_to_224_by_default(videos):
    clip = next(read_clips(videos["four"], segments=4, frames_per_segment=1))
    assert clip.frames.shape == (4, 1, 224, 224, 3)


def test_audio_is_16khz_mono_with_the_tone(videos):
    audio = read_audio(videos["four"])
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert abs(audio.size - 4 * 16000) < 16000 * 0.1
    spectrum = np.abs(np.fft.rfft(audio[4000:20000]))
    # 16000 samples span 1 s: bin i is i Hz.
    assert np.argmax(spectrum) == pytest.approx(440, abs=2)
    # Both stereo channels hold the same 0.5-amplitude tone: their mean too.
    assert np.abs(audio[4000:20000]).max() == pytest.approx(0.5, abs=0.03)


def test_short_video_is_padded_and_masked(videos):
    clip = next(read_clips(videos["short"], segments=4, frames_per_segment=2, frame_size=(WIDTH, 48)))
    np.testing.assert_array_equal(clip.mask, [1, 1, 1, 0])
    assert clip.audio.shape == (4, 16000)
    assert not clip.frames[3].any() and not clip.audio[3].any()
    assert clip.frames[2].any() and np.abs(clip.audio[2]).max() > 0.3


def test_windows_cut_a_long_video(videos):
    clips = list(read_clips(videos["four"], segments=2, frames_per_segment=1, frame_size=(WIDTH, 48),
                            windows=True))
    assert [c.video_id for c in clips] == ["four@0", "four@2"]
    assert [c.start for c in clips] == [0, 2]
    first_frames = [decoded_bar_columns(c.frames)[0, 0] for c in clips]
    assert first_frames == [bar_column(5, 40, WIDTH), bar_column(25, 40, WIDTH)]
    # Without windows only the first T seconds are used.
    assert [c.video_id for c in read_clips(videos["four"], segments=2, frames_per_segment=1)] == ["four"]


def test_start_skips_seconds(videos):
    clip = next(read_clips(videos["four"], segments=4, frames_per_segment=1, frame_size=(WIDTH, 48), start=2))
    np.testing.assert_array_equal(clip.mask, [1, 1, 0, 0])
    assert decoded_bar_columns(clip.frames)[0, 0] == bar_column(25, 40, WIDTH)


@pytest.mark.parametrize(
    "name, reason",
    [
        ("mute", "no audio stream"),
        ("silent", "silent audio"),
        ("truncated", "unsupported or corrupt container"),
        ("cut_tail", "truncated"),
        ("text", "unsupported or corrupt container"),
    ],
)
def test_unusable_videos_name_the_file_and_reason(videos, name, reason):
    with pytest.raises(UnusableVideoError) as info:
        next(read_clips(videos[name], segments=4, frames_per_segment=1))
    assert info.value.reason == reason
    assert str(videos[name]) in str(info.value)


def test_too_short_for_min_segments(videos):
    with pytest.raises(UnusableVideoError, match="too short") as info:
        next(read_clips(videos["short"], segments=4, frames_per_segment=1, min_segments=4))
    assert "short.mp4" in str(info.value)


def test_missing_file_and_bad_arguments(videos, tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.mp4"):
        next(read_clips(tmp_path / "nothing.mp4"))
    with pytest.raises(ValueError, match="frames_per_segment"):
        next(read_clips(videos["four"], frames_per_segment=0))
    with pytest.raises(ValueError, match="start"):
        next(read_clips(videos["four"], start=-1))
