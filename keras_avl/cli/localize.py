"""`keras-avl localize`: a trained run on a video -> events and heatmaps
(`keras_avl.visualization.localize_video`)."""

from pathlib import Path

from keras_avl.cli.extract import add_backbone_arguments
from keras_avl.cli.errors import reports_errors

HELP = "run a trained model on a video: per-segment events, a heatmap strip (PNG), an overlay MP4"


def register(subparsers):
    parser = subparsers.add_parser("localize", help=HELP, description=HELP)
    parser.add_argument("video", metavar="VIDEO", help="the video file.")
    parser.add_argument("--run", required=True, help="a run folder written by `keras-avl train`.")
    parser.add_argument("--out", help="output folder (default: RUN/localize/VIDEO_STEM).")
    parser.add_argument("--start", type=int, default=0, help="first second of the clip (T = the run's segments).")
    parser.add_argument("--alpha", type=float, default=0.5, help="heatmap opacity.")
    add_backbone_arguments(parser)
    parser.set_defaults(func=run)


@reports_errors
def run(args):
    from keras_avl.features import FeatureExtractor
    from keras_avl.runs import load_run
    from keras_avl.visualization import localize_video

    out = Path(args.out) if args.out else Path(args.run) / "localize" / Path(args.video).stem
    run_folder = load_run(args.run)
    if not Path(args.video).is_file():
        raise FileNotFoundError(f"Video file {args.video} does not exist (or is not a file).")
    extractor = FeatureExtractor(
        args.visual_weights, args.vggish_weights, not args.no_embedding_relu, args.batch_frames,
        precision=args.precision,
    )
    result = localize_video(run_folder, args.video, out, extractor,
                            args.frames_per_segment, args.start, args.alpha)
    print(result.table(), end="")
    print(f"wrote {out}/segments.tsv, attention.npz, heatmaps.png, overlay.mp4")
    return 0
