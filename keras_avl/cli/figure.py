"""`keras-avl figure`: lambda heatmaps of trained runs over a few videos, with
the ground-truth region outlined (`keras_avl.visualization.save_attention_figure`)."""

from keras_avl.cli.errors import reports_errors

HELP = "draw the spatial attention (lambda) of runs over a few videos with ground-truth regions (PNG)"


def register(subparsers):
    parser = subparsers.add_parser("figure", help=HELP, description=HELP)
    parser.add_argument("--runs", nargs="+", required=True, metavar="RUN",
                        help="run folders written by `keras-avl train` (one row each per video).")
    parser.add_argument("--videos", type=int, default=3,
                        help="how many videos (the first of the split with an event).")
    parser.add_argument("--split", default="test", choices=("train", "val", "test"))
    parser.add_argument("--data", default=None,
                        help="dataset folder with regions.h5 (default: the first run's own).")
    parser.add_argument("--out", default="attention_maps.png", help="the PNG file to write.")
    parser.set_defaults(func=run)


@reports_errors
def run(args):
    from keras_avl.visualization import save_attention_figure

    drawn = save_attention_figure(args.out, args.runs, args.videos, args.split, args.data)
    print(f"wrote {args.out} (videos {', '.join(map(str, drawn))} of the {args.split} split)")
    return 0
