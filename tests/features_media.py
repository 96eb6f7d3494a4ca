"""Real media files for the feature tests, written with PyAV.

Each video frame shows a white vertical bar whose column encodes the frame
index, so that tests can tell which frame a decoder sampled; the audio is a
sine tone (or silence) at any sample rate.
"""

from fractions import Fraction

import av
import numpy as np

BAR_WIDTH = 8


def bar_column(index, frames, width):
    """The left column of the bar on frame `index` of `frames`."""
    return int(index * (width - BAR_WIDTH) / max(frames - 1, 1))


def make_video(path, seconds=4, fps=10, size=(64, 48), tone=440.0, audio="tone",
               sample_rate=22050, channels="stereo", faststart=False):
    """Writes an H.264 (+ AAC) MP4. `audio` is "tone", "silence" or None;
    `faststart` puts the index before the data (as streamed files do)."""
    width, height = size
    frames = int(seconds * fps)
    options = {"movflags": "faststart"} if faststart else {}
    with av.open(str(path), "w", options=options) as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        sound = None
        if audio is not None:
            sound = container.add_stream("aac", rate=sample_rate, layout=channels)
        for index in range(frames):
            image = np.full((height, width, 3), 30, np.uint8)
            left = bar_column(index, frames, width)
            image[:, left:left + BAR_WIDTH] = 255
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = index, Fraction(1, fps)
            container.mux(video.encode(frame))
        container.mux(video.encode())
        if sound is not None:
            t = np.arange(int(seconds * sample_rate)) / sample_rate
            wave = 0.5 * np.sin(2 * np.pi * tone * t) if audio == "tone" else 0 * t
            planes = np.repeat(wave[None].astype(np.float32), 2 if channels == "stereo" else 1, 0)
            for offset in range(0, planes.shape[1], 1024):
                chunk = av.AudioFrame.from_ndarray(
                    np.ascontiguousarray(planes[:, offset:offset + 1024]), format="fltp", layout=channels
                )
                chunk.sample_rate, chunk.pts = sample_rate, offset
                container.mux(sound.encode(chunk))
            container.mux(sound.encode())
    return path


def make_truncated(path, source, size=3000):
    """A copy of `source` cut to its first `size` bytes (by default the index
    of a file written without faststart is lost: unreadable)."""
    path.write_bytes(source.read_bytes()[:size])
    return path


def decoded_bar_columns(frames):
    """The bar's left column in each uint8 (..., height, width, 3) frame."""
    return (np.asarray(frames)[..., 0, :, 0] > 128).argmax(-1)
