"""The VGGish log-mel front end vs an independent NumPy transcription of
SPEC §6 (VGGish's mel_features.py recipe), within 1e-4."""

import numpy as np
import pytest

from keras_avl.features import log_mel_spectrogram, segment_log_mel_examples


def numpy_log_mel(waveform):
    """SPEC §6 in float64 NumPy: periodic Hann 400 / hop 160 / FFT 512,
    magnitude, 64 HTK mel bands 125-7500 Hz (DC bin weight 0), log(x + 0.01)."""
    window, hop, fft = 400, 160, 512
    count = 1 + (len(waveform) - window) // hop
    frames = np.stack([waveform[i * hop:i * hop + window] for i in range(count)])
    hann = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(window) / window)
    magnitude = np.abs(np.fft.rfft(frames * hann, fft))

    def mel(hertz):
        return 1127.0 * np.log(1.0 + hertz / 700.0)

    bins = mel(np.linspace(0.0, 8000.0, fft // 2 + 1))
    edges = np.linspace(mel(125.0), mel(7500.0), 64 + 2)
    weights = np.zeros((fft // 2 + 1, 64))
    for band in range(64):
        lower, centre, upper = edges[band:band + 3]
        rising = (bins - lower) / (centre - lower)
        falling = (upper - bins) / (upper - centre)
        weights[:, band] = np.maximum(0.0, np.minimum(rising, falling))
    weights[0, :] = 0.0
    return np.log(magnitude @ weights + 0.01)


def waveforms():
    rng = np.random.default_rng(0)
    t = np.arange(16000) / 16000
    chirp = 0.3 * np.sin(2 * np.pi * (200 + 3000 * t) * t)
    return {
        "tone": 0.5 * np.sin(2 * np.pi * 440 * t),
        "noise": 0.1 * rng.standard_normal(16000),
        "chirp": chirp,
        "clipped_noise": np.clip(rng.standard_normal(16000), -1, 1),
    }


@pytest.mark.parametrize("name", sorted(waveforms()))
def test_log_mel_matches_numpy_transcription(name):
    waveform = waveforms()[name].astype(np.float32)
    expected = numpy_log_mel(waveform.astype(np.float64))
    found = np.asarray(log_mel_spectrogram(waveform))
    assert found.shape == expected.shape == (98, 64)
    np.testing.assert_allclose(found, expected, atol=1e-4, rtol=0)


def test_silence_is_log_of_the_offset():
    found = np.asarray(log_mel_spectrogram(np.zeros(16000, np.float32)))
    np.testing.assert_allclose(found, np.log(0.01), atol=1e-6)


def test_one_example_of_96_frames_per_segment_aligned_with_it():
    signals = waveforms()
    segments = np.stack([signals["tone"], signals["noise"], signals["chirp"]]).astype(np.float32)
    examples = np.asarray(segment_log_mel_examples(segments))
    assert examples.shape == (3, 96, 64)
    for segment, example in zip(segments, examples):
        np.testing.assert_allclose(example, numpy_log_mel(segment.astype(np.float64))[:96], atol=1e-4)
