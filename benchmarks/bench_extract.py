"""Extraction throughput of `keras-avl extract` on 10-s clips, and where the
time goes: video decoding, frame sampling + resizing to 224x224 (FFmpeg
swscale), audio decoding + resampling, the log-mel front end, VGGish and
VGG-19 (random weights: the same computation as the released ones).

The clips are synthetic H.264 + AAC MP4s like YouTube's AVE videos
(`--width`x`--height` at `--fps`, 44.1 kHz stereo audio), written with PyAV.
Each stage is timed on its own (median over the clips, after a warm-up call
of each model), then `extract_dataset` runs end to end on all clips (videos/s).

Usage:

    python benchmarks/bench_extract.py --clips 3 --frames-per-segment 16 \
        --out benchmarks/results/extract_cpu.json
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_mfb import environment  # noqa: E402  (device, backend, versions)

SECONDS = 10


def write_clip(path, width, height, fps, seed):
    """A 10-s H.264 + AAC clip: moving noise texture and a tone over noise."""
    import av

    rng = np.random.default_rng(seed)
    texture = rng.integers(0, 256, (height, width * 2, 3), dtype=np.uint8)
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        audio = container.add_stream("aac", rate=44100, layout="stereo")
        for index in range(SECONDS * fps):
            shift = index * 4 % width
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(texture[:, shift:shift + width]),
                                               format="rgb24")
            frame.pts, frame.time_base = index, Fraction(1, fps)
            container.mux(video.encode(frame))
        container.mux(video.encode())
        t = np.arange(SECONDS * 44100) / 44100
        wave = (0.3 * np.sin(2 * np.pi * 440 * t) + 0.05 * rng.standard_normal(t.size)).astype(np.float32)
        planes = np.stack([wave, wave])
        for offset in range(0, planes.shape[1], 1024):
            chunk = av.AudioFrame.from_ndarray(np.ascontiguousarray(planes[:, offset:offset + 1024]),
                                               format="fltp", layout="stereo")
            chunk.sample_rate, chunk.pts = 44100, offset
            container.mux(audio.encode(chunk))
        container.mux(audio.encode())


def timed(function):
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def decode_only(path):
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        return sum(1 for _ in container.decode(stream))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", type=int, default=3)
    parser.add_argument("--frames-per-segment", type=int, default=16)
    parser.add_argument("--width", type=int, default=480)
    parser.add_argument("--height", type=int, default=360)
    parser.add_argument("--fps", type=int, default=25)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--out", help="JSON file for the results")
    args = parser.parse_args()

    import av

    from keras_avl.features import (
        ExtractionSettings,
        FeatureExtractor,
        extract_dataset,
        iter_segment_frames,
        read_audio,
        read_clips,
        segment_log_mel_examples,
        segment_pool5,
    )

    k = args.frames_per_segment
    started = environment()  # the load average before the run
    folder = Path(tempfile.mkdtemp(prefix="bench_extract_"))
    clips = [folder / "videos" / f"clip{i}.mp4" for i in range(args.clips)]
    clips[0].parent.mkdir()
    for seed, path in enumerate(clips):
        write_clip(path, args.width, args.height, args.fps, seed)
    extractor = FeatureExtractor("random", "random", batch_size=args.batch_size)
    # Warm-up (graph tracing) at the shapes timed below.
    warm_frames = np.zeros((1, min(args.batch_size, SECONDS * k), 224, 224, 3), np.uint8)
    segment_pool5(extractor.visual_model, warm_frames, args.batch_size)
    extractor.audio_model.predict_on_batch(segment_log_mel_examples(np.zeros((SECONDS, 16000), np.float32)))

    stages = {name: [] for name in ("decode", "decode_sample_resize", "audio_decode_resample",
                                    "log_mel", "vggish", "vgg19")}
    for path in clips:
        times = {
            "decode": timed(lambda: decode_only(path))[0],
            "decode_sample_resize": timed(lambda: list(iter_segment_frames(path, k)))[0],
            "audio_decode_resample": timed(lambda: read_audio(path))[0],
        }
        clip = next(read_clips(path, SECONDS, k))
        times["log_mel"], examples = timed(lambda: segment_log_mel_examples(clip.audio))
        times["vggish"] = timed(lambda: extractor.audio_model.predict_on_batch(examples))[0]
        times["vgg19"] = timed(lambda: segment_pool5(extractor.visual_model, clip.frames, args.batch_size))[0]
        for name, seconds in times.items():
            stages[name].append(seconds)
    per_video = {name: statistics.median(values) for name, values in stages.items()}
    # decode_sample_resize includes the decoding: the resize share is the difference.
    split = {
        "decode": per_video["decode"] + per_video["audio_decode_resample"],
        "resize": max(per_video["decode_sample_resize"] - per_video["decode"], 0.0),
        "backbone": per_video["log_mel"] + per_video["vggish"] + per_video["vgg19"],
    }
    settings = ExtractionSettings(segments=SECONDS, frames_per_segment=k, visual_weights="random",
                                  vggish_weights="random")
    elapsed, report = timed(lambda: extract_dataset(clips, folder / "out", settings,
                                                    extractor=extractor, progress=False,
                                                    batch_size=args.batch_size))
    assert len(report.extracted) == args.clips, report
    result = {
        "benchmark": "extract",
        **started,
        "load_average_at_end": list(os.getloadavg()),
        "pyav": av.__version__,
        "clip": {"seconds": SECONDS, "width": args.width, "height": args.height, "fps": args.fps,
                 "audio": "AAC 44.1 kHz stereo", "frames_per_segment": k,
                 "vgg19_frames_per_video": SECONDS * k},
        "clips_timed": args.clips,
        "seconds_per_video_by_stage": {name: round(v, 4) for name, v in per_video.items()},
        "seconds_per_video_by_kind": {name: round(v, 4) for name, v in split.items()},
        "bottleneck": max(split, key=split.get),
        "end_to_end": {"videos": args.clips, "seconds": round(elapsed, 3),
                       "videos_per_second": round(args.clips / elapsed, 5)},
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
