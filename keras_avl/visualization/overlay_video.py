"""An MP4 of a clip with its lambda heatmaps over the frames and the original
audio kept (re-encoded to AAC), written with PyAV."""

from fractions import Fraction

import numpy as np

from keras_avl.atomic import atomic_path
from keras_avl.features.decoding import media_origin
from keras_avl.visualization.heatmap import blend, heatmap_colors


def write_overlay_video(video, path, attention, mask, start=0, alpha=0.5, colormap="jet"):
    """Writes `path` (H.264 + AAC MP4) atomically.

    Frames of the seconds [start, start + T) of `video` are drawn with the
    heatmap of their segment (padded segments: no heatmap); the audio of the
    same seconds is kept.

    Args:
        video: the source video file.
        path: the MP4 to write.
        attention: (T, h, w) lambda per segment.
        mask: (T,), 0 for padded segments.
        start: the clip's first second in the video.
        alpha: the heatmap's opacity.
        colormap: a matplotlib colormap name.

    Example:

    >>> write_overlay_video("clip.mp4", "overlay.mp4", np.random.rand(10, 7, 7),  # doctest: +SKIP
    ...                     np.ones(10))
    """
    import av

    segments = len(attention)
    with av.open(str(video)) as source, atomic_path(path) as tmp:
        in_video = source.streams.video[0]
        in_audio = source.streams.audio[0] if source.streams.audio else None
        rate = Fraction(in_video.average_rate or 25).limit_denominator(1001)
        # yuv420p needs even sides.
        width, height = in_video.codec_context.width // 2 * 2, in_video.codec_context.height // 2 * 2
        samples = _audio_samples(video, start, segments) if in_audio else None
        with av.open(str(tmp), "w", format="mp4") as target:
            out_video = target.add_stream("libx264", rate=rate)
            out_video.width, out_video.height, out_video.pix_fmt = width, height, "yuv420p"
            out_audio = None
            if samples is not None:
                out_audio = target.add_stream("aac", rate=in_audio.rate, layout=samples[1])
            colors = [heatmap_colors(a, (height, width), colormap) for a in attention]
            origin = media_origin(source)
            written = 0
            for frame in source.decode(in_video):
                time = float(frame.time) - origin - start
                if time < 0:
                    continue
                segment = int(time)
                if segment >= segments:
                    break
                pixels = frame.to_ndarray(format="rgb24")[:height, :width]
                if mask[segment]:
                    pixels = blend(pixels, colors[segment], alpha)
                out_frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
                out_frame.pts, out_frame.time_base = written, 1 / rate
                written += 1
                target.mux(out_video.encode(out_frame))
            target.mux(out_video.encode())
            if out_audio is not None:
                _encode_audio(target, out_audio, samples[0], in_audio.rate, samples[1])


def _audio_samples(video, start, segments):
    """float32 planar (channels, n) of [start, start + segments) s, and the layout."""
    import av

    with av.open(str(video)) as source:
        stream = source.streams.audio[0]
        # Read while the file is open: PyAV 12 crashes on a closed file's stream.
        layout, rate = stream.layout.name, stream.rate
        resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)
        chunks = []
        for frame in source.decode(stream):
            chunks.extend(out.to_ndarray() for out in resampler.resample(frame))
        chunks.extend(out.to_ndarray() for out in resampler.resample(None))
    samples = np.concatenate(chunks, axis=1) if chunks else np.zeros((1, 0), np.float32)
    return samples[:, start * rate:(start + segments) * rate], layout


def _encode_audio(target, stream, samples, rate, layout):
    import av

    frame_size = 1024
    for offset in range(0, samples.shape[1], frame_size):
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(samples[:, offset:offset + frame_size]), format="fltp", layout=layout
        )
        frame.sample_rate, frame.pts = rate, offset
        target.mux(stream.encode(frame))
    target.mux(stream.encode())
