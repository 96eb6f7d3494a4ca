"""Extraction throughput of `keras-avl extract` on 10-s clips, where the
time goes, and the feature drift of bfloat16 against float32.

The clips are synthetic H.264 + AAC MP4s like YouTube's AVE videos
(`--width`x`--height` at `--fps`, 44.1 kHz stereo audio), written with PyAV;
the backbones have random weights (the same computation as the released
ones; no download).

1. Stages, each timed on its own (median over the clips, after a warm-up
   call of each model): video decoding, frame sampling + resizing to 224x224
   (FFmpeg swscale), audio decoding + resampling, the log-mel front end,
   VGGish and VGG-19 in float32 and in bfloat16 (one clip's frames,
   `--batch-frames` a pass).
2. Drift: the features of every real segment in bfloat16 against float32
   (the same weights): ||f_bf16 - f_fp32|| / ||f_fp32|| per segment, median
   and max, for VGG-19 pool5 (averaged over the segment's frames, as stored)
   and the VGGish embedding.
3. End to end (`extract_dataset`, videos/s), variants run in turn and
   repeated in reverse order (`--repeats`), so that a change of machine load
   hits them alike: precision float32 / bfloat16; `batched` (frames of
   several segments and videos per pass, `--batch-frames`) or `per_clip`
   (one clip at a time, as before); decoding `overlapped` (a background
   thread, prefetch 2) or `sequential`. Overlapped and sequential decoding
   must give bit-equal features (checked).

Usage:

    python benchmarks/bench_extract.py --clips 2 --frames-per-segment 16 \
        --out benchmarks/results/extract_cpu_k16_bf16.json
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


def relative_errors(found, reference, mask):
    """||found - reference|| / ||reference|| per real segment."""
    errors = []
    for f, r, m in zip(found, reference, mask):
        for segment in np.flatnonzero(m):
            norm = np.linalg.norm(r[segment])
            errors.append(float(np.linalg.norm(f[segment] - r[segment]) / norm) if norm else float("nan"))
    return errors


def summary(values):
    values = [v for v in values if np.isfinite(v)]
    return {"segments": len(values), "median": round(statistics.median(values), 6),
            "max": round(max(values), 6)}


def read_part_features(out):
    import h5py

    arrays = {}
    for name in ("visual_feature.h5", "audio_feature.h5", "segment_mask.h5"):
        with h5py.File(out / name) as f:
            arrays[name.split("_")[0]] = f["avadataset"][...]
    return arrays


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", type=int, default=2)
    parser.add_argument("--frames-per-segment", type=int, default=16)
    parser.add_argument("--width", type=int, default=480)
    parser.add_argument("--height", type=int, default=360)
    parser.add_argument("--fps", type=int, default=25)
    parser.add_argument("--batch-frames", type=int, default=64)
    parser.add_argument("--per-clip-batch", type=int, default=32,
                        help="frames per pass of the per_clip variants (the former default)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--variants", default="all",
                        help="comma-separated variant names, or all")
    parser.add_argument("--out", help="JSON file for the results")
    args = parser.parse_args()

    import av
    import keras

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
    from keras_avl.features import ave_extraction

    k = args.frames_per_segment
    started = environment()  # the load average before the run
    folder = Path(tempfile.mkdtemp(prefix="bench_extract_"))
    clips = [folder / "videos" / f"clip{i}.mp4" for i in range(args.clips)]
    clips[0].parent.mkdir()
    for seed, path in enumerate(clips):
        write_clip(path, args.width, args.height, args.fps, seed)
    keras.utils.set_random_seed(0)
    extractors = {"float32": FeatureExtractor("random", "random", batch_size=args.batch_frames)}
    extractors["bfloat16"] = FeatureExtractor("random", "random", batch_size=args.batch_frames,
                                              precision="bfloat16")
    extractors["bfloat16"].visual_model.set_weights(extractors["float32"].visual_model.get_weights())
    extractors["bfloat16"].audio_model.set_weights(extractors["float32"].audio_model.get_weights())
    # Warm-up (graph tracing) at the shapes timed below.
    for extractor in extractors.values():
        for size in {args.batch_frames, args.per_clip_batch, SECONDS * k % args.per_clip_batch,
                     SECONDS * k * args.clips % args.batch_frames} - {0}:
            extractor.visual_model.predict_on_batch(np.zeros((size, 224, 224, 3), np.float32))
        extractor.audio_model.predict_on_batch(
            segment_log_mel_examples(np.zeros((SECONDS, 16000), np.float32)))

    stages = {name: [] for name in ("decode", "decode_sample_resize", "audio_decode_resample",
                                    "log_mel", "vggish", "vgg19_float32", "vgg19_bfloat16")}
    for path in clips:
        times = {
            "decode": timed(lambda: decode_only(path))[0],
            "decode_sample_resize": timed(lambda: list(iter_segment_frames(path, k)))[0],
            "audio_decode_resample": timed(lambda: read_audio(path))[0],
        }
        clip = next(read_clips(path, SECONDS, k))
        times["log_mel"], examples = timed(lambda: segment_log_mel_examples(clip.audio))
        times["vggish"] = timed(lambda: extractors["float32"].audio_model.predict_on_batch(examples))[0]
        for precision, extractor in extractors.items():
            times[f"vgg19_{precision}"] = timed(
                lambda: segment_pool5(extractor.visual_model, clip.frames, args.batch_frames))[0]
        for name, seconds in times.items():
            stages[name].append(seconds)
    per_video = {name: statistics.median(values) for name, values in stages.items()}
    # decode_sample_resize includes the decoding: the resize share is the difference.
    split = {
        "decode": per_video["decode"] + per_video["audio_decode_resample"],
        "resize": max(per_video["decode_sample_resize"] - per_video["decode"], 0.0),
        "backbone_float32": per_video["log_mel"] + per_video["vggish"] + per_video["vgg19_float32"],
        "backbone_bfloat16": per_video["log_mel"] + per_video["vggish"] + per_video["vgg19_bfloat16"],
    }

    def per_clip_extraction(extractor, out):
        """The former loop: decode a video, then each clip on its own."""
        for path in clips:
            extractor.batch_size = args.per_clip_batch
            try:
                ave_extraction._write_part(out, path, list(read_clips(path, SECONDS, k)), extractor)
            finally:
                extractor.batch_size = args.batch_frames

    variants = {
        "float32_per_clip_sequential": ("float32", "per_clip", 0),
        "float32_batched_overlapped": ("float32", "batched", 2),
        "bfloat16_per_clip_sequential": ("bfloat16", "per_clip", 0),
        "bfloat16_batched_sequential": ("bfloat16", "batched", 0),
        "bfloat16_batched_overlapped": ("bfloat16", "batched", 2),
        "float32_batched_sequential": ("float32", "batched", 0),
    }
    if args.variants != "all":
        variants = {name: variants[name] for name in args.variants.split(",")}
    seconds = {name: [] for name in variants}
    features = {}
    order = list(variants)
    for repeat in range(args.repeats):
        for name in order if repeat % 2 == 0 else order[::-1]:
            precision, batching, prefetch = variants[name]
            out = folder / f"out_{name}_{repeat}"
            settings = ExtractionSettings(segments=SECONDS, frames_per_segment=k, visual_weights="random",
                                          vggish_weights="random", precision=precision)
            if batching == "per_clip":
                out.mkdir()
                elapsed = timed(lambda: per_clip_extraction(extractors[precision], out))[0]
            else:
                elapsed, report = timed(lambda: extract_dataset(
                    clips, out, settings, extractor=extractors[precision], progress=False,
                    batch_size=args.batch_frames, prefetch=prefetch))
                assert len(report.extracted) == args.clips, report
                if repeat == 0:
                    features[name] = read_part_features(out)
            seconds[name].append(round(elapsed, 3))

    result = {
        "benchmark": "extract",
        **started,
        "load_average_at_end": list(os.getloadavg()),
        "pyav": av.__version__,
        "clip": {"seconds": SECONDS, "width": args.width, "height": args.height, "fps": args.fps,
                 "audio": "AAC 44.1 kHz stereo", "frames_per_segment": k,
                 "vgg19_frames_per_video": SECONDS * k},
        "clips_timed": args.clips,
        "batch_frames": args.batch_frames,
        "per_clip_batch": args.per_clip_batch,
        "seconds_per_video_by_stage": {name: round(v, 4) for name, v in per_video.items()},
        "seconds_per_video_by_kind": {name: round(v, 4) for name, v in split.items()},
        "vgg19_speedup_bfloat16": round(per_video["vgg19_float32"] / per_video["vgg19_bfloat16"], 2),
        "end_to_end": {
            name: {"seconds": times, "videos_per_second": round(args.clips / min(times), 5)}
            for name, times in seconds.items()
        },
    }
    for precision in ("float32", "bfloat16"):
        a, b = f"{precision}_batched_overlapped", f"{precision}_batched_sequential"
        if a in features and b in features:
            result[f"overlapped_equals_sequential_{precision}"] = all(
                np.array_equal(features[a][key], features[b][key]) for key in features[a])
    a, b = "bfloat16_batched_overlapped", "float32_batched_overlapped"
    if a in features and b in features:
        mask = features[b]["segment"]
        result["drift_bfloat16_vs_float32"] = {
            "measure": "||f_bf16 - f_fp32|| / ||f_fp32|| per real segment (random weights)",
            "vgg19_pool5": summary(relative_errors(features[a]["visual"], features[b]["visual"], mask)),
            "vggish_embedding": summary(relative_errors(features[a]["audio"], features[b]["audio"], mask)),
        }
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
