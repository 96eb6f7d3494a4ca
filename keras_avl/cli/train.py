"""`keras-avl train`: trains one model of one regime into a run folder.

A thin shell over `keras_avl.training.train`.
"""

from keras_avl.cli.errors import reports_errors
from keras_avl.cli.training_arguments import (
    add_training_arguments,
    data_arguments,
    read_training_config,
    training_fields,
)

DEFAULT_RUN_DIR = "runs/{regime}-{model}"


@reports_errors
def run(args):
    from keras_avl.training import train

    if args.regime is None and not args.resume:
        raise ValueError("--regime is required (unless --resume).")
    if args.resume and args.run_dir is None:
        raise ValueError("--resume needs the --run-dir of the interrupted run.")
    run_dir = args.run_dir or DEFAULT_RUN_DIR.format(regime=args.regime,
                                                     model=args.model or "paper")
    # The flags given, as `train`'s fields: on --resume, each is checked
    # against the recorded run.
    trained = train(run_dir, args.regime, args.model, training=read_training_config(args),
                    resume=args.resume, verbose=args.verbose, data_path=args.data_path,
                    **data_arguments(args), **training_fields(args))
    print(f"Run folder: {trained.path} (best checkpoint: {trained.best_model_path})")
    print(f"Next: keras-avl evaluate {trained.path}")
    return 0


def register(subparsers):
    parser = subparsers.add_parser(
        "train", help="train a model (supervised, weak or unsupervised)",
        description="Train one model; writes config.json (the model's config and the whole "
        "training recipe), best.keras, metrics.json and TensorBoard logs/ into the run "
        "folder.")
    parser.add_argument("--regime", choices=("supervised", "weak", "unsupervised"),
                        help="training regime (required unless --resume)")
    # Not argparse choices: listing them would import Keras for `--help`.
    parser.add_argument("--model", default=None,
                        help="the model, a preset (`keras-avl models` lists them all): paper "
                        "(default), a Table 1-3 row (audio, visual, fused-visual, "
                        "audio+visual, fusion-mul/add/concat/lstm/mfb, avfb, "
                        "avfb+swab-mean/max, avfb+swab), paper-plus, avatt (the A+V-att "
                        "baseline as released in AVE-ECCV18, trained with its protocol's loss "
                        "and StepLR), avatt-adam (the same network with Adam + cross-entropy), "
                        "avatt-keras-avl (keras-avl's earlier reading of it); unsupervised "
                        "regime: ezvsl (the contrastive EZ-VSL-style baseline), paper-segment, "
                        "fusion-mfb-segment (AVTGML plus a per-segment audio-visual term), "
                        "paper-other-class, fusion-mfb-other-class (negatives from another "
                        "class); or another AVE method: avsdn, psp, cmbs (supervised and weak). "
                        "--set changes a field of the config of the preset's method")
    parser.add_argument("--run-dir", default=None,
                        help=f"run folder (default: {DEFAULT_RUN_DIR}); never overwritten")
    parser.add_argument("--resume", action="store_true",
                        help="continue the interrupted run in --run-dir with the settings "
                        "and recipe recorded in its config.json (optimizer, schedule, loss, "
                        "epochs, ...); an option that contradicts them is an error naming it, "
                        "except a larger --epochs, which extends the run")
    parser.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2),
                        help="0 silent, 1 progress bar, 2 one line per epoch")
    parser.add_argument("--data-path", default="auto", choices=("auto", "memory", "stream"),
                        help="read the visual features into memory once, or stream them "
                        "from the file per batch (auto: memory when they fit)")
    add_training_arguments(parser)
    parser.set_defaults(func=run)
