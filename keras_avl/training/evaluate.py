"""`evaluate`: the metrics of a trained run on one split.

Segment accuracy (AVE's metric), per-class accuracy and the confusion matrix
for the regimes that classify (supervised, weak: both predict per segment), and
the localization of the spatial attention lambda for all three regimes when the
dataset has ground-truth regions: the pointing game on the grid
(`keras_avl.training.metrics`, from `regions.h5`) and cIoU, its share >= 0.5
and AUC on maps upsampled to the image size
(`keras_avl.training.localization_metrics`, from the annotators' boxes of
`boxes.json` when the dataset folder has one, else from `regions.h5`);
otherwise they are None and `localization_note` says why. Every metric counts the real segments only
(`segment_mask.h5`: padded segments are left out). The result is also stored
under `evaluation.<split>` in the run's `metrics.json`.
"""

import json
from pathlib import Path


from keras_avl.atomic import atomic_write_text
from keras_avl.data import make_dataset, read_annotations, resolve_data
from keras_avl.data.annotations import ANNOTATIONS_FILE
from keras_avl.data.boxes import BOXES_FILE, load_boxes
from keras_avl.runs import METRICS_FILE, Run, load_run
from keras_avl.training.localization_metrics import (
    IMAGE_SIZE,
    CellRegions,
    ciou_definition,
    ciou_metrics,
)
from keras_avl.training.metrics import (
    confusion_matrix,
    per_class_accuracy,
    pointing_game,
    segment_accuracy,
)
from keras_avl.validation import check_positive_int


def _record(run, split, result):
    path = Path(run.path) / METRICS_FILE
    metrics = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    metrics.setdefault("evaluation", {})[split] = result
    atomic_write_text(path, json.dumps(metrics, indent=2) + "\n")


def _ground_truth(data, order, event):
    """The ground truth of the cIoU metrics: `boxes.json` when the dataset
    has one (it must cover the split's videos with an event segment), else
    the cells of `regions.h5`, else None."""
    path = data.root / BOXES_FILE
    if not path.is_file():
        return None if data.regions is None else CellRegions(data.regions[order])
    annotations_path = data.root / ANNOTATIONS_FILE
    if not annotations_path.is_file():
        raise ValueError(f"{path} names videos by their YouTube ids; expected "
                         f"{annotations_path} to match them to rows, found none.")
    return load_boxes(path, read_annotations(annotations_path, data.segments),
                      data.segments, rows=order, required=event.any(-1))


def _localization(outputs, data, order, true_classes, variant, valid, image_size):
    """The pointing game and cIoU / its share >= 0.5 / AUC with their chance
    levels, and `localization_note`: why they are n/a (None when they are not)."""
    keys = ("pointing_game", "pointing_game_chance", "ciou", "ciou_ap50", "ciou_auc",
            "ciou_chance", "ciou_ap50_chance", "ciou_auc_chance", "ciou_ap50_ceiling",
            "ciou_definition")
    event = (true_classes != data.background) & valid
    ground_truth = _ground_truth(data, order, event)
    if ground_truth is None:
        note = (f"the dataset {data.root} has no ground-truth regions ({BOXES_FILE} "
                "or regions.h5)")
    elif "spatial_attention" not in outputs:
        note = f"the model {variant!r} has no spatial attention"
    else:
        attention = outputs["spatial_attention"]
        pointing = (pointing_game(attention, data.regions[order], event)
                    if data.regions is not None else
                    {"pointing_game": None, "pointing_game_chance": None,
                     "pointing_game_segments": 0})
        result = {**pointing, **ciou_metrics(attention, ground_truth, event,
                                             image_size=image_size),
                  "ciou_definition": ciou_definition(ground_truth, image_size)}
        if result["ciou_segments"] == 0:
            note = "no event segment of the split has a ground-truth region"
        elif result["ciou"] is None:
            note = f"the spatial attention of {variant!r} is uniform over the grid"
        else:
            note = None
        return {**result, "localization_note": note}
    return {**dict.fromkeys(keys), "pointing_game_segments": 0, "ciou_segments": 0,
            "localization_note": note}


def evaluate(run, split="test", data=None, batch_size=64, record=True,
             image_size=IMAGE_SIZE):
    """Evaluates the best checkpoint of `run` on `split`.

    Args:
        run: a `keras_avl.runs.Run` or a run folder.
        split: `"train"`, `"val"` or `"test"`.
        data: the dataset (folder or `AVEData`); default: the run's own.
        batch_size: videos per batch.
        record: also store the result in the run's `metrics.json`.
        image_size: (height, width) the attention maps are upsampled to for
            cIoU and AUC.

    Returns:
        Dict: `split`, `regime`, `variant`, `seed` (the run's),
        `segment_accuracy`, `per_class_accuracy` (class name -> accuracy),
        `confusion_matrix` (rows: true class), `class_names` (None for the
        unsupervised regime, which does not classify), and
        `pointing_game`, `pointing_game_chance`, `pointing_game_segments`
        (see `keras_avl.training.metrics`; None with boxes only),
        `ciou` (mean), `ciou_ap50` (share with cIoU >= 0.5), `ciou_auc`,
        their `*_chance` levels, `ciou_ap50_ceiling`, `ciou_segments` (see
        `keras_avl.training.localization_metrics`) and `ciou_definition`
        (image size, thresholds, ground truth, chance), and
        `localization_note`: None, or why the localization metrics are n/a
        (no ground-truth regions, no or uniform spatial attention).

    Example:

    >>> import os, tempfile
    >>> from keras_avl.training import train
    >>> os.environ["KERAS_AVL_HOME"] = tempfile.mkdtemp()
    >>> run = train(tempfile.mkdtemp() + "/run", "supervised", epochs=1, verbose=0,
    ...             embedded_size="tiny", model_config=dict(
    ...                 hidden=8, embed_dim=8, mfb_output_dim=8, swab_units=8))
    >>> result = evaluate(run)
    >>> import numpy as np
    >>> confusion = np.array(result["confusion_matrix"])
    >>> int(confusion.sum())  # the tiny test split: 8 videos x 10 segments
    80
    >>> bool(np.isclose(result["segment_accuracy"], np.trace(confusion) / 80))
    True
    """
    from keras_avl.models import inference_model

    if not isinstance(run, Run):
        run = load_run(run)
    batch_size = check_positive_int("batch_size", batch_size)
    if data is None:
        data = run.data
        data, _ = resolve_data(data, run.embedded_size or "small")
    else:
        data, _ = resolve_data(data)
    model = inference_model(run.load_model())
    # The split's videos only: the weak regime trains on the background-only
    # videos too, but they are not part of the split that is scored.
    inputs = make_dataset(data, split, run.regime, batch_size, shuffle=False,
                          include_noisy=False)
    outputs = model.predict(inputs, verbose=0)  # reads the inputs of each batch
    inputs.close()
    order = data.orders[split]
    true_classes = data.segment_labels[order].argmax(-1)
    valid = data.segment_mask[order] != 0
    result = {"split": split, "regime": run.regime, "variant": run.variant,
              "seed": run.training.seed}
    if "segment_probabilities" in outputs:
        predicted = outputs["segment_probabilities"].argmax(-1)
        confusion = confusion_matrix(true_classes, predicted, data.num_classes, valid)
        result.update(
            segment_accuracy=segment_accuracy(true_classes, predicted, valid),
            per_class_accuracy=dict(zip(data.class_names, per_class_accuracy(confusion))),
            confusion_matrix=confusion.tolist(),
            class_names=data.class_names,
        )
    else:
        result.update(segment_accuracy=None, per_class_accuracy=None,
                      confusion_matrix=None, class_names=None)
    result.update(_localization(outputs, data, order, true_classes, run.variant, valid,
                                image_size))
    if record:
        _record(run, split, result)
    return result
