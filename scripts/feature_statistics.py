"""Feature statistics of a dataset folder in the AVE layout, or of the real
VGGish rows of AVE's background videos: the table of
docs/reproducing_the_paper.md, "The embedded default".

    python scripts/feature_statistics.py DATASET_FOLDER
    python scripts/feature_statistics.py --real /work/shared/ave_meta/audio_feature_noisy.h5
"""

import argparse
import json

import h5py
import numpy as np


def audio_statistics(audio):
    rows = np.asarray(audio, np.float64).reshape(-1, audio.shape[-1])
    norms, mean_row = np.linalg.norm(rows, axis=1), rows.mean(0)
    rms = np.sqrt((rows ** 2).mean())
    return {
        "min": float(rows.min()), "zero_share": float((rows == 0).mean()),
        "mean": float(rows.mean()), "rms": float(rms),
        "dimension_mean_q10_q50_q90": np.quantile(mean_row, [0.1, 0.5, 0.9]).tolist(),
        "norm_over_sqrt_d": float(norms.mean() / np.sqrt(rows.shape[1])),
        "norm_cv": float(norms.std() / norms.mean()),
        "cos_to_mean_row": float((rows @ mean_row / norms / np.linalg.norm(mean_row)).mean()),
        "max_over_rms": float(rows.max() / rms),
    }


def visual_statistics(visual, regions):
    inside, outside = visual[regions], visual[~regions]
    return {
        "min": float(visual.min()), "zero_share": float((visual == 0).mean()),
        "mean": float(visual.mean()), "max_over_rms": float(visual.max() / np.sqrt((visual ** 2).mean())),
        "zero_share_region": float((inside == 0).mean()), "zero_share_elsewhere": float((outside == 0).mean()),
        "mean_region": float(inside.mean()), "mean_elsewhere": float(outside.mean()),
    }


def read(path, rows=None):
    with h5py.File(path, "r") as handle:
        return handle["avadataset"][:rows] if rows else handle["avadataset"][()]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", nargs="?", help="a dataset folder (AVE layout, with regions.h5)")
    parser.add_argument("--real", help="a real audio_feature_noisy.h5")
    parser.add_argument("--videos", type=int, default=100, help="visual rows read")
    args = parser.parse_args()
    if args.real:
        print(json.dumps({"audio_background_videos": audio_statistics(read(args.real))}))
        return
    visual = read(f"{args.folder}/visual_feature.h5", args.videos)
    regions = read(f"{args.folder}/regions.h5", args.videos).astype(bool)
    print(json.dumps({
        "visual": visual_statistics(visual, regions),
        "audio_background_videos": audio_statistics(read(f"{args.folder}/audio_feature_noisy.h5")),
    }))


if __name__ == "__main__":
    main()
