"""`keras-avl extract`: videos -> AVE-layout features (`keras_avl.features.extract_dataset`)."""

import sys

from keras_avl.cli.errors import reports_errors

# keras_avl.features.extractor.PRECISIONS (not imported here: it loads Keras).
PRECISIONS = ("float32", "bfloat16", "float16")

HELP = "extract AVE features (VGG-19 pool5, VGGish) of videos into the AVE layout"


def add_backbone_arguments(parser):
    """The options naming the backbones' weights (shared with `localize`)."""
    parser.add_argument(
        "--visual-weights", default="imagenet",
        help="VGG-19 weights: 'imagenet' (Keras downloads them once), a Keras VGG-19 "
             "no-top weights file, or 'random' (tests only). Default: imagenet.",
    )
    parser.add_argument(
        "--vggish-weights", required=True,
        help="VGGish weights: vggish_model.ckpt of the AudioSet release "
             "(https://storage.googleapis.com/audioset/vggish_model.ckpt), a .weights.h5 "
             "file of keras_avl.features.build_vggish, or 'random' (tests only).",
    )
    parser.add_argument(
        "--frames-per-segment", type=int, default=16,
        help="frames sampled and averaged per one-second segment (AVE: 16).",
    )
    parser.add_argument("--no-embedding-relu", action="store_true",
                        help="VGGish embedding without the final ReLU (AVE's features have it).")
    parser.add_argument(
        "--batch-frames", "--batch-size", dest="batch_frames", type=int, default=None, metavar="N",
        help="frames per VGG-19 pass, from several segments and videos. Default: sized to the "
             "machine (64 on a CPU, 256 on a GPU).",
    )
    parser.add_argument(
        "--precision", default="float32", choices=PRECISIONS,
        help="compute dtype of VGG-19 and VGGish (weights and features stay float32): float32 "
             "(default: the features as AVE's), bfloat16 (CPUs with AMX / AVX512-BF16 units, "
             "GPUs; about 7x faster VGG-19 on such a CPU, features within about 1%% of "
             "float32: README) or float16 (GPUs).",
    )


def register(subparsers):
    parser = subparsers.add_parser("extract", help=HELP, description=HELP)
    parser.add_argument("inputs", nargs="+", metavar="VIDEO_OR_DIR", help="video files or folders of videos.")
    parser.add_argument("--out", required=True, help="output folder (AVE layout; resumable).")
    parser.add_argument("--segments", type=int, default=10, help="T, one-second segments per clip (AVE: 10).")
    parser.add_argument("--start", type=int, default=0, help="first second used of every video.")
    parser.add_argument("--windows", action="store_true",
                        help="cut videos longer than T s into consecutive T-s windows (ids ID@START).")
    parser.add_argument("--min-segments", type=int, default=1,
                        help="a clip needs this many real segments, else the video is 'too short'.")
    parser.add_argument("--shard", default="0/1", help="I/N: handle the I-th of N shards (0-based).")
    parser.add_argument("--annotations", help="an AVE-style Annotations.txt with a line per video id.")
    parser.add_argument("--split", default="0.8,0.1,0.1", help="train,val,test fractions of the order files.")
    parser.add_argument("--seed", type=int, default=0, help="seed of the split.")
    parser.add_argument("--prefetch", type=int, default=2, metavar="N",
                        help="videos decoded ahead by a background thread while the backbones "
                             "run (0: decode in turn with them).")
    parser.add_argument("--quiet", action="store_true",
                        help="no progress line (videos done, videos/s, ETA on stderr).")
    add_backbone_arguments(parser)
    parser.set_defaults(func=run)


@reports_errors
def run(args):
    from keras_avl.features import ExtractionSettings, extract_dataset, parse_shard

    try:
        split = tuple(float(x) for x in args.split.split(","))
    except ValueError:
        raise ValueError(f"--split must be three numbers like 0.8,0.1,0.1; received {args.split!r}.")
    settings = ExtractionSettings(
        segments=args.segments, frames_per_segment=args.frames_per_segment, start=args.start,
        windows=args.windows, min_segments=args.min_segments, visual_weights=args.visual_weights,
        vggish_weights=args.vggish_weights, embedding_relu=not args.no_embedding_relu,
        precision=args.precision,
    )
    report = extract_dataset(
        args.inputs, args.out, settings, shard=parse_shard(args.shard), annotations=args.annotations,
        split=split, seed=args.seed, progress=not args.quiet, batch_size=args.batch_frames,
        prefetch=args.prefetch,
    )
    print(f"extracted {len(report.extracted)}, already done {len(report.resumed)}, "
          f"skipped {len(report.skipped)} (reasons in {args.out}/skipped.tsv)")
    if report.assembled:
        print(f"dataset written to {args.out}")
    elif report.pending:
        print(f"{report.pending} video(s) of other shards not done yet; the last shard "
              "(or a rerun without --shard) writes the dataset files")
    else:
        print("no video gave features: nothing to write", file=sys.stderr)
        return 1
    return 0
