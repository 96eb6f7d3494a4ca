"""`keras-avl evaluate RUN`: segment accuracy, per-class accuracy, the
confusion matrix, the pointing game and, on maps upsampled to the image size,
the share of segments with cIoU >= 0.5, the mean cIoU and AUC of a run's best
checkpoint, each beside its chance level.

A thin shell over `keras_avl.training.evaluate`.
"""

from keras_avl.cli.errors import reports_errors


def format_report(result):
    """The human-readable report of an `evaluate` result."""
    lines = [f"Run: {result['regime']} / {result['variant']} (seed {result['seed']}) "
             f"on split {result['split']!r}"]
    if result["segment_accuracy"] is not None:
        lines.append(f"Segment accuracy: {100 * result['segment_accuracy']:.2f}%")
        lines.append("Per-class accuracy:")
        for name, accuracy in result["per_class_accuracy"].items():
            shown = "n/a (no segments)" if accuracy is None else f"{100 * accuracy:.1f}%"
            lines.append(f"  {name:<32} {shown}")
        lines.append("Confusion matrix (rows: true class, columns: predicted):")
        width = max(len(str(v)) for row in result["confusion_matrix"] for v in row) + 1
        for k, row in enumerate(result["confusion_matrix"]):
            lines.append(f"  {k:>3} " + "".join(f"{v:>{width}}" for v in row))
    else:
        lines.append("Segment accuracy: n/a (the unsupervised model does not classify)")
    if result["localization_note"] is None:
        if result["pointing_game"] is not None:
            lines.append(
                f"Pointing game: {100 * result['pointing_game']:.2f}% of "
                f"{result['pointing_game_segments']} event segments "
                f"(random cell: {100 * result['pointing_game_chance']:.2f}%)"
            )
        definition = result["ciou_definition"]
        height, width = definition["image_size"]
        lines.append(f"Localization on {height}x{width} maps of {result['ciou_segments']} "
                     f"event segments (ground truth: {definition['ground_truth']}):")
        for name, key in (("cIoU >= 0.5", "ciou_ap50"), ("mean cIoU", "ciou"),
                          ("AUC", "ciou_auc")):
            lines.append(f"  {name:<12} {100 * result[key]:6.2f}% "
                         f"(random map: {100 * result[key + '_chance']:.2f}%)")
        lines.append(f"  a perfect map reaches cIoU >= 0.5 on "
                     f"{100 * result['ciou_ap50_ceiling']:.2f}% of them (the median "
                     "binarisation keeps half the image)")
    else:
        lines.append(f"Pointing game, cIoU, AUC: n/a ({result['localization_note']})")
    return "\n".join(lines)


@reports_errors
def run(args):
    from keras_avl.training import evaluate

    result = evaluate(args.run, split=args.split, data=args.data, batch_size=args.batch_size)
    print(format_report(result))
    return 0


def register(subparsers):
    parser = subparsers.add_parser(
        "evaluate", help="evaluate a run (accuracy, confusion matrix, pointing game)",
        description="Evaluate the best checkpoint of a run folder; the result is "
        "also stored in its metrics.json.")
    parser.add_argument("run", help="run folder written by `keras-avl train`")
    parser.add_argument("--split", default="test", choices=("train", "val", "test"))
    parser.add_argument("--data", default=None,
                        help="dataset folder (default: the one the run was trained on)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.set_defaults(func=run)
