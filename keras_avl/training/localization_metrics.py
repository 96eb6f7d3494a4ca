"""cIoU and AUC of sound source localization, scored as the field scores them.

The evaluator of EZ-VSL (github:stoneMo/EZ-VSL, `test.py` `validate` and
`utils.Evaluator`; shared by SLAVC, FNAC, SSL-TIE, ACL-SSL), after Senocak et
al. (CVPR 2018), applied to each scored segment's spatial attention lambda
(eq. 5 of the paper, an H x W map):

1. upsample the map bilinearly to the image size (224 x 224),
   `F.interpolate(..., mode='bilinear', align_corners=True)`;
2. min-max normalise it (`utils.normalize_img`; a constant map is left as is);
3. binarise at its median: pixels >= the value of rank `int(H * W * 0.5)` of
   the sorted map (step 2 keeps the order, so `median_binarize` skips it);
4. cIoU = sum(pred * gt) / (sum(gt) + sum(pred * (gt == 0))), with a
   ground-truth map gt in [0, 1] (`Evaluator.cal_CIOU`);
5. report the mean cIoU, the share of maps with cIoU >= 0.5 (EZ-VSL's
   "AP50(cIoU)", the column papers call "cIoU") and the AUC: the area, by the
   trapezoid rule (sklearn's `metrics.auc`), under the share of maps with
   cIoU >= 0.05 i as a function of 0.05 i, i = 0..20 (`finalize_AUC`).

The ground truth is either the cells of `regions.h5`, each scaled to its pixel
block of the image (`CellRegions`), or annotators' boxes
(`keras_avl.data.boxes`, EZ-VSL's `bbox2gtmap`).

A ceiling: the median binarisation always keeps half the image, so no map can
reach cIoU >= 0.5 on a region smaller than a quarter of the image (its best
cIoU is region area / half the image). `ciou_ap50_ceiling` is the share of
segments where a perfect map could reach 0.5; on the embedded default
(regions of 1-4 of 49 cells) it is 0, and so is every model's share.

Chance levels: the mean of the same metrics over `chance_maps` random maps of
the model's grid (i.i.d. uniform cell values, a fixed seed), each upsampled,
normalised, binarised and scored against every segment exactly as the model's
maps. Random grid maps are smooth once upsampled, like the model's, so this is
the level a spatially uninformed map of that resolution reaches.

Everything is NumPy and vectorised over segments, in chunks that bound the
memory. The ground truth comes as constant blocks (grid cells, or single
pixels for boxes): each binary map is reduced to its pixel count per block,
so cell regions are never rasterised at the image size.
"""

import numpy as np

from keras_avl.validation import check_positive_int

IMAGE_SIZE = (224, 224)
# EZ-VSL's thresholds of the cIoU curve: 0.05 * i, i = 0..20 (the same floats).
CIOU_THRESHOLDS = tuple(0.05 * i for i in range(21))
CHANCE_MAPS = 100
CHANCE_SEED = 0
_CHUNK = 64
_KEYS = ("ciou", "ciou_ap50", "ciou_auc", "ciou_chance", "ciou_ap50_chance",
         "ciou_auc_chance", "ciou_ap50_ceiling")


def _check_image_size(image_size):
    size = tuple(image_size) if isinstance(image_size, (tuple, list)) else None
    if size is None or len(size) != 2 or not all(
            isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 2
            for s in size):
        raise ValueError("`image_size` must be (height, width), two integers >= 2; "
                         f"received image_size={image_size!r}.")
    return int(size[0]), int(size[1])


def _interpolation_matrix(source, target):
    """(target, source) weights of 1-D linear interpolation with
    align_corners=True: output o reads source position o * (source-1)/(target-1)."""
    position = np.arange(target) * ((source - 1) / (target - 1))
    low = np.minimum(np.floor(position).astype(int), source - 1)
    high = np.minimum(low + 1, source - 1)
    weight = position - low
    matrix = np.zeros((target, source))
    np.add.at(matrix, (np.arange(target), low), 1 - weight)
    np.add.at(matrix, (np.arange(target), high), weight)
    return matrix


def upsample_bilinear(maps, image_size=IMAGE_SIZE):
    """(..., h, w) maps -> (..., H, W), bilinear with align_corners=True
    (PyTorch's `F.interpolate(mode='bilinear', align_corners=True)`), float64.

    Example:

    >>> upsample_bilinear(np.array([[0.0, 1.0], [2.0, 3.0]]), (3, 3)).tolist()
    [[0.0, 0.5, 1.0], [1.0, 1.5, 2.0], [2.0, 2.5, 3.0]]
    """
    maps = np.asarray(maps, np.float64)
    *batch, h, w = maps.shape
    height, width = image_size
    rows = _interpolation_matrix(h, height)
    columns = _interpolation_matrix(w, width)
    # Rows by a stack of small products, then columns by one large product
    # (contiguous, no copy of the (k, H, W) result).
    tall = (rows @ maps.reshape(-1, h, w)).reshape(-1, w)  # (k * H, w)
    out = tall @ columns.T
    return out.reshape(*batch, height, width)


def median_binarize(maps):
    """(k, P) flat maps -> (k, P) booleans: >= the value of rank int(P * 0.5) of
    each sorted map. EZ-VSL min-max normalises the map first; an increasing
    affine map keeps the order, so the binarisation is the same without it
    (the tests check this against their code).

    Example:

    >>> median_binarize(np.array([[0.1, 0.4, 0.2, 0.3]])).tolist()
    [[False, True, False, True]]
    """
    maps = np.asarray(maps)
    rank = int(maps.shape[-1] * 0.5)
    threshold = np.partition(maps, rank, axis=-1)[..., rank : rank + 1]
    return maps >= threshold


def _pool(binary, row_starts, column_starts):
    """(k, H, W) 0/1 maps -> (k, q) float32 pixel counts per block of the
    ground truth (blocks start at `row_starts` x `column_starts`)."""
    counts = binary.astype(np.float32)
    if len(row_starts) < counts.shape[1]:
        counts = np.add.reduceat(counts, row_starts, axis=1)
    if len(column_starts) < counts.shape[2]:
        counts = np.add.reduceat(counts, column_starts, axis=2)
    return counts.reshape(len(counts), -1)


def _ceiling(values, sizes):
    """The best cIoU of any median binarisation: the P - int(P/2) pixels of
    largest ground truth selected, filled level by level (the maps have few
    distinct values: 0, 0.5, 1)."""
    left = np.full(len(values), sizes.sum() - int(sizes.sum() * 0.5), np.float64)
    inside = np.zeros(len(values))
    level = values.max()
    while level > 0:
        taken = np.minimum((values == level) @ sizes, left)
        inside += taken * float(level)
        left -= taken
        level = np.where(values < level, values, 0).max()
    # The rest of the selection falls on pixels outside the ground truth.
    return inside / (values @ sizes + left)


def _curve(values):
    """The share of `values` >= each threshold of `CIOU_THRESHOLDS`."""
    values = np.asarray(values).ravel()
    return np.array([np.mean(values >= threshold) for threshold in CIOU_THRESHOLDS])


def _area(shares):
    """Trapezoid area under `shares` over `CIOU_THRESHOLDS` (sklearn's `auc`)."""
    return float(np.sum((shares[1:] + shares[:-1]) / 2 * np.diff(CIOU_THRESHOLDS)))


class CellRegions:
    """Ground truth from grid regions: each cell of an (N, T, h, w) region map
    becomes its pixel block of the image (pixel row y belongs to cell row
    floor(y * h / H); 32 x 32 pixels per cell of a 7 x 7 grid at 224 x 224).

    Args:
        regions: (N, T, h, w), nonzero on the sounding object.

    Example:

    >>> regions = np.zeros((1, 1, 2, 3)); regions[0, 0, 0, 1] = 1
    >>> values, rows, columns = CellRegions(regions).blocks([0], [0], (4, 8))
    >>> values.tolist(), rows.tolist(), columns.tolist()
    ([[0.0, 1.0, 0.0, 0.0, 0.0, 0.0]], [0, 2], [0, 3, 6])
    """

    description = "regions.h5: each grid cell scaled to its pixel block"

    def __init__(self, regions):
        self.regions = np.asarray(regions) > 0
        self.present = self.regions.any((-2, -1))

    def blocks(self, videos, segments, image_size):
        """The ground truth of segments (videos[i], segments[i]) as constant
        blocks: float32 values (k, h * w) and the first pixel row / column of
        each block (cell row i starts at ceil(i * H / h))."""
        h, w = self.regions.shape[-2:]
        values = self.regions[np.asarray(videos), np.asarray(segments)]
        return (values.reshape(len(values), -1).astype(np.float32),
                -(-np.arange(h) * image_size[0] // h), -(-np.arange(w) * image_size[1] // w))


def ciou_metrics(attention, ground_truth, event, valid=None, image_size=IMAGE_SIZE,
                 chance_maps=CHANCE_MAPS, seed=CHANCE_SEED):
    """cIoU, its share >= 0.5 and AUC of the spatial attention on the event
    segments, each beside its chance level (see the module docstring).

    Args:
        attention: (N, T, h, w) spatial attention lambda.
        ground_truth: (N, T, h, w) cell regions (nonzero on the sounding
            object), or an object with `present`, (N, T) bool, and
            `blocks(videos, segments, image_size)` -> the ground-truth maps in
            [0, 1] as constant blocks (see `CellRegions.blocks`;
            `keras_avl.data.boxes.BoxRegions`: one block per pixel).
        event: (N, T) bool, the event segments.
        valid: optional (N, T) bool, the segments to score (default: all).
        image_size: (H, W) the maps are upsampled to.
        chance_maps: random grid maps the chance levels average over.
        seed: the seed of those random maps.

    Returns:
        Dict with `ciou` (mean cIoU), `ciou_ap50` (share with cIoU >= 0.5),
        `ciou_auc`, their chance levels `ciou_chance`, `ciou_ap50_chance`,
        `ciou_auc_chance`, `ciou_ap50_ceiling` (share of segments where a
        perfect map could reach 0.5) and `ciou_segments` (event segments with
        a non-empty ground truth). The metrics are None when no segment is
        scored or when the attention is uniform everywhere (a model without
        spatial attention); chance levels and ceiling are None only without
        segments.

    Example:

    >>> regions = np.zeros((1, 1, 2, 2)); regions[0, 0, 0] = 1  # the top half
    >>> attention = regions.copy()  # upsampled: highest on the 4 top rows of 8
    >>> result = ciou_metrics(attention, regions, np.array([[True]]), image_size=(8, 8))
    >>> result["ciou"], result["ciou_ap50"], result["ciou_segments"]
    (1.0, 1.0, 1)
    """
    image_size = _check_image_size(image_size)
    chance_maps = check_positive_int("chance_maps", chance_maps)
    attention = np.asarray(attention)
    n, t, h, w = attention.shape
    if not hasattr(ground_truth, "blocks"):
        ground_truth = CellRegions(ground_truth)
    selected = np.asarray(event, bool) & ground_truth.present
    if valid is not None:
        selected &= np.asarray(valid, bool)
    videos, segments = np.nonzero(selected)
    result = dict.fromkeys(_KEYS)
    result["ciou_segments"] = count = len(videos)
    if count == 0:
        return result
    maps = attention[videos, segments]
    informative = np.ptp(maps.reshape(count, -1), axis=-1).max() > 1e-7
    random_maps = np.random.default_rng(seed).random((chance_maps, h, w))
    random_binary = median_binarize(upsample_bilinear(random_maps, image_size).reshape(
        chance_maps, -1)).reshape(chance_maps, *image_size)
    model, chance, ceiling = [], [], []
    # cIoU from pixel counts per block of the ground truth (a cell or a pixel):
    # exact in float32 (sums of 0, 0.5 and 1 below 2**24).
    for start in range(0, count, _CHUNK):
        rows = slice(start, start + _CHUNK)
        values, row_starts, column_starts = ground_truth.blocks(
            videos[rows], segments[rows], image_size)
        outside = (values == 0).astype(np.float32)
        sizes = _pool(np.ones((1, *image_size), bool), row_starts, column_starts)[0]
        total = (values @ sizes).astype(np.float64)[:, None]
        counts = _pool(random_binary, row_starts, column_starts)
        # Exact sums, divided in float64 like the reference.
        chance.append((values @ counts.T).astype(np.float64)
                      / (total + outside @ counts.T))
        ceiling.append(_ceiling(values, sizes))
        if informative:
            binary = median_binarize(upsample_bilinear(maps[rows], image_size).reshape(
                len(values), -1)).reshape(len(values), *image_size)
            counts = _pool(binary, row_starts, column_starts)
            model.append(np.einsum("ij,ij->i", values, counts).astype(np.float64)
                         / (total[:, 0] + np.einsum("ij,ij->i", outside, counts)))
    chance = np.concatenate(chance)
    chance_curve = _curve(chance)
    result.update(ciou_chance=float(chance.mean()),
                  ciou_ap50_chance=float(chance_curve[CIOU_THRESHOLDS.index(0.5)]),
                  ciou_auc_chance=_area(chance_curve),
                  ciou_ap50_ceiling=float(np.mean(np.concatenate(ceiling) >= 0.5)))
    if informative:
        values = np.concatenate(model)
        curve = _curve(values)
        result.update(ciou=float(values.mean()),
                      ciou_ap50=float(curve[CIOU_THRESHOLDS.index(0.5)]),
                      ciou_auc=_area(curve))
    return result


def ciou_definition(ground_truth, image_size=IMAGE_SIZE, chance_maps=CHANCE_MAPS,
                    seed=CHANCE_SEED):
    """The settings of `ciou_metrics`, for the record next to its values.

    Example:

    >>> ciou_definition(CellRegions(np.ones((1, 1, 2, 2))))["image_size"]
    [224, 224]
    """
    return {
        "image_size": list(_check_image_size(image_size)),
        "upsampling": "bilinear, align_corners=True, then min-max normalised",
        "binarisation": "pixels >= the value of rank int(H*W/2) of the sorted map",
        "ciou_thresholds": [round(x, 2) for x in CIOU_THRESHOLDS],
        "auc": "trapezoid rule over the share of segments with cIoU >= each threshold",
        "ground_truth": ground_truth.description,
        "chance": f"mean over {chance_maps} i.i.d. uniform random grid maps "
                  f"(seed {seed}) scored the same way",
    }
