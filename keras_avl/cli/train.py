"""`keras-avl train`: trains one model of one regime into a run folder.

A thin shell over `keras_avl.training.train`.
"""

import argparse
import json

from keras_avl.cli.errors import reports_errors

DEFAULT_RUN_DIR = "runs/{regime}-{model}"


# The defaults of the options shared with `compare` and `tune`.
TRAINING_DEFAULTS = dict(embedded_size="small", batch_size=64, learning_rate=1e-3, seed=0,
                         selection="val-loss")


def add_training_arguments(parser, resumable=False):
    """The options `train`, `compare` and `tune` share; with `resumable`
    (`train`), those of `TRAINING_DEFAULTS` default to None: the recorded
    value of a resumed run, `train`'s default of a new one."""
    parser.add_argument("--data", default=None,
                        help="dataset folder in the AVE release layout "
                        "(default: the embedded synthetic dataset)")
    parser.add_argument("--embedded-size", default=None, choices=("tiny", "small", "full"),
                        help="size of the embedded default dataset when --data is not "
                        "given (default small)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="training epochs (default: the --protocol's, else "
                        "keras_avl.training.DEFAULT_EPOCHS, 15); with train --resume, "
                        "more epochs than recorded extend the run (finished or not)")
    parser.add_argument("--batch-size", type=int, default=None, help="default 64")
    parser.add_argument("--learning-rate", type=float, default=None, help="default 1e-3")
    parser.add_argument("--seed", type=int, default=None, help="default 0")
    parser.add_argument("--selection", default=None,
                        choices=("val-loss", "audio-consistency"),
                        help="unsupervised regime: keep the epoch of lowest val loss "
                        "(default) or of the spatial attention most consistent over time with "
                        "the video's own sound on val (label-free; "
                        "keras_avl.training.audio_consistency)")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="override a field of the model's config (PaperConfig, "
                        "AVAttConfig, ...), e.g. --set hidden=64 (repeatable)")
    if not resumable:
        parser.set_defaults(**TRAINING_DEFAULTS)


def add_protocol_argument(parser, default_help):
    """The `--protocol` option of `train` and `compare`."""
    parser.add_argument("--protocol", default=None,
                        help="a named training recipe (keras_avl.protocols): "
                        "ave-eccv18-supervised, ave-eccv18-weak (the released A+V-att's "
                        "loss and per-batch StepLR; any classifier of the paper's config), "
                        "psp-cvpr21-supervised, psp-cvpr21-weak, cmbs-cvpr22-supervised, "
                        "cmbs-cvpr22-weak; or 'own': each model's own recipe where it has "
                        "one. It sets batch size, learning rate and schedule, loss, "
                        "clipping and epochs (unless --epochs); the epoch is still "
                        f"selected on val. {default_help}")


def parse_overrides(items):
    """`["hidden=64", "fusion=mfb"]` -> `{"hidden": 64, "fusion": "mfb"}` (JSON
    values, plain strings otherwise)."""
    overrides = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--set expects FIELD=VALUE; received {item!r}.")
        try:
            overrides[key] = json.loads(text)
        except json.JSONDecodeError:
            overrides[key] = text
    return overrides


def training_kwargs(args):
    """Keyword arguments of `keras_avl.training.train` from the parsed options."""
    return dict(
        data=args.data,
        embedded_size=args.embedded_size,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        seed=args.seed,
        selection=args.selection,
        **parse_overrides(args.set),
    )


@reports_errors
def run(args):
    from keras_avl.training import train

    if args.regime is None and not args.resume:
        raise ValueError("--regime is required (unless --resume).")
    if args.resume and args.run_dir is None:
        raise ValueError("--resume needs the --run-dir of the interrupted run.")
    run_dir = args.run_dir or DEFAULT_RUN_DIR.format(regime=args.regime,
                                                     model=args.model or "paper")
    kwargs = training_kwargs(args)
    trained = train(run_dir, args.regime, args.model, resume=args.resume,
                    verbose=args.verbose, distribute=args.distribute,
                    mixed_precision=args.mixed_precision, deterministic=args.deterministic,
                    jit_compile={"on": True, "off": False}.get(args.jit_compile),
                    steps_per_execution=args.steps_per_execution,
                    data_path=args.data_path, protocol=args.protocol, **kwargs)
    print(f"Run folder: {trained.path} (best checkpoint: {trained.best_model_path})")
    print(f"Next: keras-avl evaluate {trained.path}")
    return 0


def register(subparsers):
    parser = subparsers.add_parser(
        "train", help="train a model (supervised, weak or unsupervised)",
        description="Train one model; writes config.json, best.keras, metrics.json "
        "and TensorBoard logs/ into the run folder.")
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
    parser.add_argument("--distribute", default=None,
                        choices=("none", "mirrored", "multiworker"),
                        help="data-parallel training: mirrored = all local devices "
                        "(tf.distribute.MirroredStrategy, or keras.distribution.DataParallel "
                        "on JAX); multiworker = tf.distribute.MultiWorkerMirroredStrategy, "
                        "cluster from TF_CONFIG; --batch-size is the global batch")
    add_protocol_argument(parser, "Default: the common keras-avl recipe (Adam, the "
                          "model's own loss), or the loss and schedule of the model's "
                          "default recipe (avatt: AVE-ECCV18's) for the epochs given.")
    parser.add_argument("--mixed-precision", action="store_true", default=None,
                        help="float16 on GPU / bfloat16 on CPU, delicate parts in float32")
    parser.add_argument("--jit-compile", default="auto", choices=("auto", "on", "off"),
                        help="XLA-compile the train step (auto: on JAX and on a TensorFlow "
                        "GPU, not on a CPU-only TensorFlow; whatever the run's length); "
                        "recorded in config.json and kept on --resume")
    parser.add_argument("--steps-per-execution", type=int, default=None,
                        help="batches per call of the compiled train step (default 1)")
    parser.add_argument("--data-path", default="auto", choices=("auto", "memory", "stream"),
                        help="read the visual features into memory once, or stream them "
                        "from the file per batch (auto: memory when they fit)")
    parser.add_argument("--deterministic", action=argparse.BooleanOptionalAction, default=None,
                        help="deterministic ops (TensorFlow op determinism, XLA's "
                        "deterministic GPU ops; the default): the run repeats exactly for "
                        "its seed and equals that seed's `compare` run; --no-deterministic "
                        "lets TensorFlow pick faster kernels")
    add_training_arguments(parser, resumable=True)
    parser.set_defaults(func=run)
