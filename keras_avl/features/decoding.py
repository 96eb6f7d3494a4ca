"""Decoding a video into one-second segments with PyAV (AVE's input layout).

A clip is T one-second segments. For each segment, `frames_per_segment` RGB
frames are sampled at the centres of equal sub-intervals (AVE sampled 16 per
second and averaged their pool5 features) and the audio is resampled to
16 kHz mono (SPEC §6). A segment is valid when the video covers at least half
of it; clips shorter than T seconds are padded with zeros and masked; a long
video gives its first T seconds, or every T-second window on request.
"""

import dataclasses
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16000
FRAME_SIZE = (224, 224)
# A video whose frames end this much before the duration its header declares
# was cut short (an interrupted download): its tail is missing, not silent.
TRUNCATION_TOLERANCE = 1.0
# File name suffixes taken as videos when a folder is scanned.
VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".flv", ".mpg", ".mpeg", ".ts")


class UnusableVideoError(ValueError):
    """A video that cannot give features; `reason` says why in a few words.

    Args:
        path: the video file.
        reason: a short reason ("no video stream", "silent audio", ...).
        detail: what was found, for the message.
    """

    def __init__(self, path, reason, detail=""):
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}" + (f" ({detail})" if detail else ""))


@dataclasses.dataclass
class VideoClip:
    """T one-second segments of a video.

    Args:
        video_id: the clip's name (the file stem, `stem@START` for windows).
        start: the clip's first second in the video.
        frames: uint8 (T, k, height, width, 3) RGB frames, zeros when padded.
        audio: float32 (T, 16000) mono waveform in [-1, 1], zeros when padded.
        mask: float32 (T,), 1 for a segment the video covers, 0 for padding.
    """

    video_id: str
    start: int
    frames: np.ndarray
    audio: np.ndarray
    mask: np.ndarray

    @property
    def valid_segments(self):
        return int(self.mask.sum())


def _open(path):
    import av

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Video file {path} does not exist (or is not a file).")
    try:
        return av.open(str(path))
    except av.error.FFmpegError as error:
        raise UnusableVideoError(
            path, "unsupported or corrupt container", f"FFmpeg could not open it: {error}"
        ) from error


def read_audio(path, sample_rate=SAMPLE_RATE):
    """The whole audio track of `path` as float32 mono at `sample_rate` (the
    mean of the channels).

    Samples before the first audio packet (a stream that starts after the
    video) are zeros, so that sample i is at time i / sample_rate.

    Raises:
        UnusableVideoError: no audio stream, undecodable audio, or audio that
            ends more than `TRUNCATION_TOLERANCE` s before the duration the
            header declares ("truncated").

    Example:

    >>> read_audio("clip.mp4").shape  # doctest: +SKIP
    (160000,)
    """
    import av

    with _open(path) as container:
        if not container.streams.audio:
            raise UnusableVideoError(path, "no audio stream")
        stream = container.streams.audio[0]
        # Channels are averaged as VGGish does (np.mean over channels), not
        # down-mixed by FFmpeg (which scales stereo by 1/sqrt(2) per channel).
        resampler = av.AudioResampler(format="fltp", layout=stream.layout.name, rate=sample_rate)
        chunks, offset, failure = [], None, None
        try:
            for frame in container.decode(stream):
                if offset is None:
                    offset = max(0.0, float(frame.time or 0.0) - media_origin(container))
                chunks.extend(out.to_ndarray().mean(axis=0) for out in resampler.resample(frame))
        except av.error.FFmpegError as error:
            failure = error  # judged below: a lost tail is "truncated"
        chunks.extend(out.to_ndarray().mean(axis=0) for out in resampler.resample(None))
        declared = _declared_duration(container, stream)
    lead = np.zeros(int(round((offset or 0.0) * sample_rate)), np.float32)
    audio = np.concatenate([lead] + chunks).astype(np.float32)
    decoded = audio.size / sample_rate
    if declared is not None and decoded < declared - TRUNCATION_TOLERANCE:
        raise UnusableVideoError(
            path, "truncated",
            f"the audio stream declares {declared:.2f} s, decodes to {decoded:.2f} s"
            + (f"; FFmpeg: {failure}" if failure else ""),
        )
    if failure is not None and not audio.any():
        raise UnusableVideoError(path, "corrupt audio", str(failure))
    return audio


def media_origin(container):
    """Time 0 of the clip in stream time: the container's start (the earliest
    stream), so that audio and video stay aligned when one starts later."""
    return (container.start_time or 0) / 1e6  # AV_TIME_BASE units


def _declared_duration(container, stream):
    """The video stream's duration from the file's header, in seconds."""
    if stream.duration is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / 1e6  # AV_TIME_BASE units
    return None


def iter_segment_frames(path, frames_per_segment, frame_size=FRAME_SIZE, first_segment=0):
    """Yields `(frames, covered)` per one-second segment from `first_segment` on.

    frames is uint8 (k, height, width, 3): the frames shown at times
    s + (j + 0.5) / k (the last decoded frame past the end); covered says
    whether the video reaches the middle of the segment. Stops after the last
    segment that holds any sampled time before the end of the video.

    Args:
        path: the video file.
        frames_per_segment: k.
        frame_size: (width, height) the frames are scaled to (by FFmpeg's
            swscale), or None for the native size.
        first_segment: the first segment to yield.

    Raises:
        UnusableVideoError: no video stream, corrupt video data, or frames
            that end more than `TRUNCATION_TOLERANCE` s before the duration
            the header declares (a truncated file).

    Example:

    >>> frames, covered = next(iter_segment_frames("clip.mp4", 4))  # doctest: +SKIP
    >>> frames.shape  # doctest: +SKIP
    (4, 224, 224, 3)
    """
    import av

    with _open(path) as container:
        if not container.streams.video:
            raise UnusableVideoError(path, "no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        origin = media_origin(container)
        frame_period = 1.0 / float(stream.average_rate or 25)
        width, height = frame_size if frame_size else (None, None)

        def to_array(frame):
            return frame.to_ndarray(format="rgb24", width=width, height=height)

        segment = first_segment
        sampled, previous, covered_until = [], None, 0.0
        try:
            for frame in container.decode(stream):
                time = float(frame.time) - origin if frame.time is not None else covered_until
                covered_until = time + frame_period
                # Targets strictly before this frame are shown by the previous one.
                while segment + (len(sampled) + 0.5) / frames_per_segment < time:
                    sampled.append(to_array(previous if previous is not None else frame))
                    if len(sampled) == frames_per_segment:
                        yield np.stack(sampled), True
                        segment, sampled = segment + 1, []
                previous = frame
        except av.error.FFmpegError as error:
            raise UnusableVideoError(path, "corrupt video data", str(error)) from error
        if previous is None:
            raise UnusableVideoError(path, "corrupt video data", "no frame could be decoded")
        declared = _declared_duration(container, stream)
        if declared is not None and covered_until < declared - TRUNCATION_TOLERANCE:
            raise UnusableVideoError(
                path, "truncated",
                f"the video stream declares {declared:.2f} s, its frames end at {covered_until:.2f} s",
            )
        # The tail: targets up to the end of the video show the last frame.
        while segment + (len(sampled) + 0.5) / frames_per_segment < covered_until:
            sampled.append(to_array(previous))
            if len(sampled) == frames_per_segment:
                yield np.stack(sampled), covered_until >= segment + 0.5
                segment, sampled = segment + 1, []
        if sampled:
            sampled += [sampled[-1]] * (frames_per_segment - len(sampled))
            yield np.stack(sampled), covered_until >= segment + 0.5


def read_clips(
    path,
    segments=10,
    frames_per_segment=16,
    frame_size=FRAME_SIZE,
    start=0,
    windows=False,
    min_segments=1,
    silence_threshold=1e-4,
):
    """Yields the `VideoClip`s of a video: its T seconds from `start`, or
    (`windows=True`) every consecutive T-second window from `start`.

    Args:
        path: the video file.
        segments: T, segments per clip.
        frames_per_segment: k, frames sampled per segment.
        frame_size: (width, height) of the frames; None keeps the native size.
        start: the first second used.
        windows: cut a video longer than T seconds into consecutive windows.
        min_segments: a clip needs this many valid segments; a video whose
            first clip has fewer is "too short", a later window with fewer is
            dropped.
        silence_threshold: a video whose audio never exceeds this peak
            amplitude is "silent audio".

    Raises:
        FileNotFoundError: `path` does not exist.
        UnusableVideoError: corrupt or truncated, no video stream, no audio
            stream, silent audio, or too short.

    Example:

    >>> clip = next(read_clips("clip.mp4", segments=10, frames_per_segment=4))  # doctest: +SKIP
    >>> clip.frames.shape, clip.audio.shape, clip.mask.shape  # doctest: +SKIP
    ((10, 4, 224, 224, 3), (10, 16000), (10,))
    """
    from keras_avl.validation import check_positive_int

    check_positive_int("segments", segments)
    check_positive_int("frames_per_segment", frames_per_segment)
    check_positive_int("min_segments", min_segments)
    if isinstance(start, bool) or not isinstance(start, int) or start < 0:
        raise ValueError(f"`start` must be a whole number of seconds >= 0; received start={start!r}.")
    path = Path(path)
    audio = read_audio(path)
    peak = float(np.abs(audio).max()) if audio.size else 0.0
    if peak <= silence_threshold:
        raise UnusableVideoError(path, "silent audio", f"peak amplitude {peak:.3g} <= {silence_threshold:g}")
    frames, mask, window_start, yielded = [], [], start, 0
    for segment_frames, covered in iter_segment_frames(path, frames_per_segment, frame_size, start):
        frames.append(segment_frames if covered else np.zeros_like(segment_frames))
        mask.append(float(covered))
        if len(frames) == segments:
            clip = _clip(path, window_start, frames, mask, audio, windows)
            if clip.valid_segments >= min_segments:
                yielded += 1
                yield clip
            if not windows or clip.valid_segments < min_segments:
                break
            window_start, frames, mask = window_start + segments, [], []
    else:
        if frames:
            padding = segments - len(frames)
            clip = _clip(path, window_start, frames + [np.zeros_like(frames[0])] * padding,
                         mask + [0.0] * padding, audio, windows)
            if clip.valid_segments >= min_segments:
                yielded += 1
                yield clip
    if not yielded:
        raise UnusableVideoError(
            path, "too short",
            f"fewer than {min_segments} one-second segment(s) of video from second {start}",
        )


def _clip(path, start, frames, mask, audio, windows):
    segments = len(frames)
    mask = np.asarray(mask, np.float32)
    samples = audio[start * SAMPLE_RATE:(start + segments) * SAMPLE_RATE]
    samples = np.pad(samples, (0, segments * SAMPLE_RATE - samples.size))
    samples = samples.reshape(segments, SAMPLE_RATE) * mask[:, None]
    video_id = f"{path.stem}@{start}" if windows else path.stem
    return VideoClip(video_id, start, np.stack(frames), samples.astype(np.float32), mask)

