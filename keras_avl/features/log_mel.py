"""VGGish's log-mel front end (SPEC §6) with `tf.signal`.

16 kHz mono -> STFT magnitude (400-sample periodic Hann window, hop 160, FFT
512) -> 64 HTK mel bands over 125-7500 Hz (the DC bin carries no weight) ->
log(mel + 0.01) -> examples of 96 frames (0.96 s) without overlap. This is
the recipe of the released `vggish_input.py` / `mel_features.py`.
"""

SAMPLE_RATE = 16000
WINDOW_LENGTH = 400  # 0.025 s
HOP_LENGTH = 160  # 0.010 s
FFT_LENGTH = 512  # next power of two above the window
MEL_BANDS = 64
LOWER_EDGE_HERTZ = 125.0
UPPER_EDGE_HERTZ = 7500.0
LOG_OFFSET = 0.01
EXAMPLE_FRAMES = 96  # 0.96 s


def log_mel_spectrogram(waveform):
    """Log-mel spectrogram of a 16 kHz mono waveform.

    Args:
        waveform: float (..., samples) in [-1, 1].

    Returns:
        float32 (..., frames, 64) with frames = 1 + (samples - 400) // 160.

    Example:

    >>> import numpy as np
    >>> log_mel_spectrogram(np.zeros((2, 16000), np.float32)).shape
    TensorShape([2, 98, 64])
    """
    import tensorflow as tf

    # float64 inside: log(mel + 0.01) turns the float32 FFT's round-off,
    # relative to the loudest bin, into errors above 1e-4 in quiet bands.
    waveform = tf.cast(tf.convert_to_tensor(waveform), tf.float64)
    magnitude = tf.abs(
        tf.signal.stft(
            waveform,
            frame_length=WINDOW_LENGTH,
            frame_step=HOP_LENGTH,
            fft_length=FFT_LENGTH,
            window_fn=tf.signal.hann_window,  # periodic by default
        )
    )
    # TF's mel matrix uses the HTK scale 1127 ln(1 + f/700) and zeroes the DC
    # bin, as VGGish's mel_features.spectrogram_to_mel_matrix does.
    mel_matrix = tf.signal.linear_to_mel_weight_matrix(
        num_mel_bins=MEL_BANDS,
        num_spectrogram_bins=FFT_LENGTH // 2 + 1,
        sample_rate=SAMPLE_RATE,
        lower_edge_hertz=LOWER_EDGE_HERTZ,
        upper_edge_hertz=UPPER_EDGE_HERTZ,
        dtype=tf.float64,
    )
    mel = tf.tensordot(magnitude, mel_matrix, 1)
    return tf.cast(tf.math.log(mel + LOG_OFFSET), tf.float32)


def segment_log_mel_examples(segment_audio):
    """One VGGish example per one-second segment.

    Each segment's 16000 samples give 98 log-mel frames; the first 96 (0.96 s)
    form the segment's example, so that example t is aligned with segment t.

    Args:
        segment_audio: float (T, 16000) waveform per segment.

    Returns:
        float32 (T, 96, 64).

    Example:

    >>> import numpy as np
    >>> segment_log_mel_examples(np.zeros((10, 16000), np.float32)).shape
    TensorShape([10, 96, 64])
    """
    return log_mel_spectrogram(segment_audio)[..., :EXAMPLE_FRAMES, :]
