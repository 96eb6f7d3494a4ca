"""The effect of bfloat16 feature extraction on a trained model: a model
trained on float32-extracted features, evaluated on the float32 and on the
bfloat16 features of the same clips.

1. `--clips` labelled synthetic H.264 + AAC clips of 10 s, written with PyAV:
   each has one event of one of `--classes` classes over a random interval of
   seconds; an event second shows a class-coloured square on a moving noise
   texture and sounds a class tone over noise, a background second shows the
   texture alone and sounds noise alone. An AVE-style `Annotations.txt`
   labels them.
2. `keras-avl extract` (`extract_dataset`) of the same clips twice, with
   `--precision float32` and `bfloat16`: the same backbone weights, random
   (`visual_weights="random"`, `vggish_weights="random"`, seeded: no
   download); `--frames-per-segment` frames a segment; the same seeded split.
3. `keras_avl.training.train` of one supervised run (small dimensions) on the
   float32 features; its best checkpoint predicts every segment of the test
   split (and of all the clips) from the float32 and from the bfloat16
   features: segment accuracy on each, and the share of segments whose
   predicted class is the same.

Random backbone weights give features that are not ImageNet's; the drift of
bf16 against float32 through them is of the same computation (bench_extract),
and the model trained on them learns from them what it can.

Usage:

    python benchmarks/bf16_features_effect.py \
        --out benchmarks/results/bf16_features_effect_cpu_tensorflow.json
"""

import argparse
import json
import os
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_mfb import environment, finish_and_write  # noqa: E402

SECONDS = 10
SAMPLE_RATE = 44100
# Per class: the square's colour and the tone's frequency.
CLASS_COLOURS = [(230, 40, 40), (40, 200, 40), (40, 80, 230), (230, 210, 40)]
CLASS_TONES = [330.0, 660.0, 1320.0, 2640.0]
CLASS_NAMES = ["Red-low", "Green-mid", "Blue-high", "Yellow-top"]


def write_clip(path, label, start, end, seed, size=(96, 72), fps=4):
    """A 10-s clip whose seconds [start, end) carry the event of class `label`."""
    import av

    width, height = size
    rng = np.random.default_rng(seed)
    texture = rng.integers(0, 160, (height, width * 2, 3), dtype=np.uint8)
    square = height // 2
    top, left = rng.integers(0, height - square), rng.integers(0, width - square)
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        audio = container.add_stream("aac", rate=SAMPLE_RATE, layout="stereo")
        for index in range(SECONDS * fps):
            shift = index * 3 % width
            image = np.ascontiguousarray(texture[:, shift:shift + width])
            if start <= index // fps < end:
                image[top:top + square, left:left + square] = CLASS_COLOURS[label]
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = index, Fraction(1, fps)
            container.mux(video.encode(frame))
        container.mux(video.encode())
        t = np.arange(SECONDS * SAMPLE_RATE) / SAMPLE_RATE
        event = (t >= start) & (t < end)
        wave = 0.05 * rng.standard_normal(t.size) + 0.3 * event * np.sin(2 * np.pi * CLASS_TONES[label] * t)
        planes = np.stack([wave, wave]).astype(np.float32)
        for offset in range(0, planes.shape[1], 1024):
            chunk = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(planes[:, offset:offset + 1024]), format="fltp", layout="stereo"
            )
            chunk.sample_rate, chunk.pts = SAMPLE_RATE, offset
            container.mux(audio.encode(chunk))
        container.mux(audio.encode())


def write_clips(folder, count, classes, seed):
    """`count` clips and their `Annotations.txt`; returns the annotation path."""
    rng = np.random.default_rng(seed)
    lines = ["Category&VideoID&Quality&StartTime&EndTime"]
    for index in range(count):
        label = index % classes
        length = int(rng.integers(3, 8))
        start = int(rng.integers(0, SECONDS - length + 1))
        video_id = f"clip{index:03d}"
        write_clip(folder / f"{video_id}.mp4", label, start, start + length, seed * 1000 + index)
        lines.append(f"{CLASS_NAMES[label]}&{video_id}&good&{start}&{start + length}")
    annotations = folder / "Annotations.txt"
    annotations.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return annotations


def extract(videos, annotations, out, precision, frames_per_segment, seed):
    import keras

    from keras_avl.features.ave_extraction import ExtractionSettings, extract_dataset

    keras.utils.set_random_seed(seed)  # the same random backbone weights
    settings = ExtractionSettings(
        frames_per_segment=frames_per_segment,
        visual_weights="random",
        vggish_weights="random",
        precision=precision,
    )
    start = time.perf_counter()
    report = extract_dataset([videos], out, settings, annotations=annotations,
                             split=(0.6, 0.2, 0.2), seed=seed, progress=False)
    if report.skipped or not report.assembled:
        raise RuntimeError(f"extraction in {precision} left out {report.skipped}")
    # A `--work` folder of an earlier call resumes: its videos are not extracted again.
    return {"seconds": time.perf_counter() - start, "videos_extracted": len(report.extracted),
            "videos_reused": len(report.resumed)}


def predictions(run, data_folder):
    """Predicted class and true class of every real segment, per split
    (and "all"), from the run's best checkpoint on `data_folder`."""
    from keras_avl.data import load_ave
    from keras_avl.data.pipeline import make_dataset
    from keras_avl.models import inference_model

    data = load_ave(data_folder)
    model = inference_model(run.load_model())
    found = {}
    for split in ("train", "val", "test"):
        inputs = make_dataset(data, split, run.regime, 64, shuffle=False, include_noisy=False)
        outputs = model.predict(inputs, verbose=0)
        inputs.close()
        order = data.orders[split]
        valid = data.segment_mask[order] != 0
        found[split] = (
            outputs["segment_probabilities"].argmax(-1)[valid],
            data.segment_labels[order].argmax(-1)[valid],
        )
    found["all"] = tuple(np.concatenate([found[s][i] for s in ("train", "val", "test")]) for i in (0, 1))
    return found


def feature_drift(float32_folder, bfloat16_folder):
    import h5py

    drift = {}
    for name in ("visual_feature.h5", "audio_feature.h5"):
        with h5py.File(Path(float32_folder) / name) as f, h5py.File(Path(bfloat16_folder) / name) as b:
            reference, found = f["avadataset"][...], b["avadataset"][...]
        reference = reference.reshape(reference.shape[:2] + (-1,))
        found = found.reshape(found.shape[:2] + (-1,))
        errors = np.linalg.norm(found - reference, axis=-1) / np.maximum(
            np.linalg.norm(reference, axis=-1), 1e-30
        )
        drift[name.split("_")[0]] = {"median": float(np.median(errors)), "max": float(errors.max())}
    return drift


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="JSON file to write")
    parser.add_argument("--clips", type=int, default=40)
    parser.add_argument("--classes", type=int, default=4, choices=range(2, len(CLASS_NAMES) + 1))
    parser.add_argument("--frames-per-segment", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--variant", default="paper")
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", help="folder for clips, features and the run (default: a temporary one)")
    args = parser.parse_args(argv)
    report = environment()
    from keras_avl.features.extractor import check_precision

    check_precision("bfloat16")  # refused with a clear error on a CPU without bf16 units
    work = Path(args.work or tempfile.mkdtemp(prefix="bf16_effect_"))
    videos = work / "clips"
    videos.mkdir(parents=True, exist_ok=True)
    annotations = write_clips(videos, args.clips, args.classes, args.seed)
    seconds = {}
    folders = {}
    for precision in ("float32", "bfloat16"):
        folders[precision] = work / f"features_{precision}"
        seconds[precision] = extract(videos, annotations, folders[precision], precision,
                                     args.frames_per_segment, args.seed)
        print(f"extraction in {precision}: {seconds[precision]}", flush=True)
    from keras_avl.training import train

    overrides = dict(hidden=32, embed_dim=64, mfb_output_dim=32, swab_units=32)
    run_dir = work / f"run_{args.variant}_lr{args.learning_rate:g}_epochs{args.epochs}"
    run = train(run_dir, "supervised", args.variant, data=str(folders["float32"]), epochs=args.epochs,
                batch_size=8, learning_rate=args.learning_rate, seed=args.seed, verbose=0,
                model_config=overrides)
    found = {precision: predictions(run, folder) for precision, folder in folders.items()}
    results = {}
    for split in ("test", "all"):
        (fp32, truth), (bf16, truth_bf16) = found["float32"][split], found["bfloat16"][split]
        assert np.array_equal(truth, truth_bf16)
        results[split] = {
            "segments": int(truth.size),
            "majority_class_share": float(np.bincount(truth).max() / truth.size),
            "predicted_classes_float32_features": np.bincount(fp32, minlength=args.classes + 1).tolist(),
            "accuracy_float32_features": float((fp32 == truth).mean()),
            "accuracy_bfloat16_features": float((bf16 == truth).mean()),
            "prediction_agreement": float((fp32 == bf16).mean()),
            "segments_changed": int((fp32 != bf16).sum()),
        }
        print(split, results[split], flush=True)
    report.update(
        benchmark="bf16 features on a float32-trained model",
        clips=args.clips,
        classes=args.classes,
        frames_per_segment=args.frames_per_segment,
        backbone_weights="random (seeded), the same for both precisions",
        training=dict(regime="supervised", variant=args.variant, epochs=args.epochs, batch_size=8,
                      learning_rate=args.learning_rate,
                      best_epoch=json.loads((run_dir / "metrics.json").read_text())["best_epoch"],
                      split=[0.6, 0.2, 0.2], seed=args.seed, **overrides),
        extraction=seconds,
        feature_drift_bf16_vs_float32=feature_drift(folders["float32"], folders["bfloat16"]),
        results=results,
    )
    finish_and_write(report, args.out)


if __name__ == "__main__":
    main()
