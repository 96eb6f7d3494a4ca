"""cIoU / its share >= 0.5 / AUC against a NumPy transcription of EZ-VSL's
evaluator (github:stoneMo/EZ-VSL: `test.py` `validate`, `utils.normalize_img`,
`utils.Evaluator`, `datasets.load_all_bboxes` / `bbox2gtmap`), written here
per pixel and per image, independently of `localization_metrics`."""

import numpy as np
import pytest

from keras_avl.data.boxes import BoxRegions
from keras_avl.training.localization_metrics import (
    CellRegions,
    ciou_definition,
    ciou_metrics,
)

# --- EZ-VSL, transcribed ---------------------------------------------------


def _interpolate_bilinear_align_corners(heatmap, height, width):
    """F.interpolate(mode='bilinear', align_corners=True), one output pixel at
    a time (PyTorch's upsample_bilinear2d: source = dst * (in - 1) / (out - 1),
    i1 = i0 + 1 unless at the border)."""
    in_h, in_w = heatmap.shape
    scale_h, scale_w = (in_h - 1) / (height - 1), (in_w - 1) / (width - 1)
    out = np.zeros((height, width))
    for oy in range(height):
        sy = oy * scale_h
        y0 = min(int(sy), in_h - 1)
        y1 = y0 + (1 if y0 < in_h - 1 else 0)
        ly = sy - y0
        for ox in range(width):
            sx = ox * scale_w
            x0 = min(int(sx), in_w - 1)
            x1 = x0 + (1 if x0 < in_w - 1 else 0)
            lx = sx - x0
            out[oy, ox] = ((1 - ly) * ((1 - lx) * heatmap[y0, x0] + lx * heatmap[y0, x1])
                           + ly * ((1 - lx) * heatmap[y1, x0] + lx * heatmap[y1, x1]))
    return out


def _normalize_img(value):
    vmin, vmax = value.min(), value.max()
    if not (vmax - vmin) == 0:
        value = (value - vmin) / (vmax - vmin)
    return value


def _cal_ciou(infer, gtmap, thres):
    infer_map = np.zeros(infer.shape)
    infer_map[infer >= thres] = 1
    return np.sum(infer_map * gtmap) / (np.sum(gtmap) + np.sum(infer_map * (gtmap == 0)))


def _ez_vsl_ciou(heatmap, gt_map):
    """test.py's per-image evaluation of a low-resolution heatmap."""
    pred = _normalize_img(_interpolate_bilinear_align_corners(heatmap, *gt_map.shape))
    thr = np.sort(pred.flatten())[int(pred.shape[0] * pred.shape[1] * 0.5)]
    return _cal_ciou(pred, gt_map, thr)


def _finalize(cious):
    """finalize_cIoU, finalize_AP50, finalize_AUC (sklearn's auc: trapezoids)."""
    cious = np.array(cious)
    shares = [np.sum(cious >= 0.05 * i) / len(cious) for i in range(21)]
    thr = [0.05 * i for i in range(21)]
    auc = sum((thr[i + 1] - thr[i]) * (shares[i] + shares[i + 1]) / 2 for i in range(20))
    return np.mean(cious), np.mean(cious >= 0.5), auc


def _bbox2gtmap(bboxes, fmt, height=224, width=224):
    gt_map = np.zeros([height, width])
    for xmin, ymin, xmax, ymax in bboxes:
        temp = np.zeros([height, width])
        temp[ymin:ymax, xmin:xmax] = 1
        gt_map += temp
    if fmt == "flickr":
        gt_map = gt_map / 2
        gt_map[gt_map > 1] = 1
    else:
        gt_map[gt_map > 0] = 1
    return gt_map


# --- tests -------------------------------------------------------------------


def _selection(rng, n, t):
    return rng.random((n, t)) < 0.8, rng.random((n, t)) < 0.9


def test_cell_regions_match_ez_vsl_on_random_maps_non_square_image():
    rng = np.random.default_rng(0)
    n, t, h, w, size = 3, 4, 5, 6, (30, 45)
    regions = rng.random((n, t, h, w)) < 0.5
    # Maps that follow the regions, so that the cIoU spreads on both sides of 0.5.
    attention = (rng.random((n, t, 1, 1)) * regions + rng.random((n, t, h, w))).astype(
        np.float32)
    event, valid = _selection(rng, n, t)
    expected = []
    for i in range(n):
        for j in range(t):
            if event[i, j] and valid[i, j] and regions[i, j].any():
                # Each cell scaled to its pixel block, written out cell by cell.
                gt = np.zeros(size)
                for cy, cx in zip(*np.nonzero(regions[i, j])):
                    gt[int(np.ceil(cy * size[0] / h)):int(np.ceil((cy + 1) * size[0] / h)),
                       int(np.ceil(cx * size[1] / w)):int(np.ceil((cx + 1) * size[1] / w))] = 1
                expected.append(_ez_vsl_ciou(attention[i, j].astype(np.float64), gt))
    result = ciou_metrics(attention, regions, event, valid, image_size=size, chance_maps=4)
    assert result["ciou_segments"] == len(expected) > 5
    np.testing.assert_allclose([result["ciou"], result["ciou_ap50"], result["ciou_auc"]],
                               _finalize(expected), atol=1e-6)
    # Large regions: the share >= 0.5 varies here (0 < share < 1).
    assert 0 < result["ciou_ap50"] < 1


def test_flickr_consensus_and_vggss_union_match_ez_vsl_at_224():
    rng = np.random.default_rng(1)
    n, t = 2, 3
    attention = rng.random((n, t, 7, 7))
    event = np.ones((n, t), bool)

    def boxes(frame, count):
        corners = np.sort(rng.integers(0, frame + 1, size=(count, 2, 2)), axis=1)
        corners[:, 1] = np.maximum(corners[:, 1], corners[:, 0] + 1)  # x0 < x1, y0 < y1
        return [[int(b[0, 0]), int(b[0, 1]), int(b[1, 0]), int(b[1, 1])] for b in corners]

    # Flickr: 3 annotators, one box each per segment, 256 x 256 frames.
    flickr = [[[[box] for box in boxes(256, t)] for _ in range(3)] for _ in range(n)]
    regions = BoxRegions([((256, 256), annotators) for annotators in flickr], t)
    cious = []
    for i in range(n):
        for j in range(t):
            # load_all_bboxes: int(224 * v / 256); every annotator's box.
            scaled = [[int(224 * v / 256) for v in flickr[i][a][j][0]] for a in range(3)]
            gt = _bbox2gtmap(scaled, "flickr")
            assert set(np.unique(gt)) <= {0, 0.5, 1}
            cious.append(_ez_vsl_ciou(attention[i, j], gt))
    result = ciou_metrics(attention, regions, event, chance_maps=2)
    np.testing.assert_allclose([result["ciou"], result["ciou_ap50"], result["ciou_auc"]],
                               _finalize(cious), atol=1e-6)

    # VGG-SS: one annotator, several boxes per segment, a 896 x 448 frame;
    # EZ-VSL reads boxes normalised to [0, 1]: int(clip(v, 0, 1) * 224).
    vggss = [[[boxes(448, 2) for _ in range(t)]] for _ in range(n)]
    for video in vggss:
        for segment in video[0]:
            for box in segment:
                box[0], box[2] = 2 * box[0], 2 * box[2]
    regions = BoxRegions([((896, 448), annotators) for annotators in vggss], t)
    cious = []
    for i in range(n):
        for j in range(t):
            normalised = [np.array(b, float) / [896, 448, 896, 448] for b in vggss[i][0][j]]
            scaled = [(np.clip(b, 0, 1) * 224).astype(int) for b in normalised]
            cious.append(_ez_vsl_ciou(attention[i, j], _bbox2gtmap(scaled, "vggss")))
    result = ciou_metrics(attention, regions, event, chance_maps=2)
    np.testing.assert_allclose([result["ciou"], result["ciou_ap50"], result["ciou_auc"]],
                               _finalize(cious), atol=1e-6)


def test_consensus_rule_by_hand():
    """Two annotators agreeing on the left column, one marking the middle:
    1 where both, 0.5 where one; one annotator's two boxes: their union."""
    two = BoxRegions([((3, 1), [[[[0, 0, 2, 1]]], [[[0, 0, 1, 1]]]])], 1)
    assert two.masks([0], [0], (1, 3))[0].tolist() == [[1.0, 0.5, 0.0]]
    three = BoxRegions([((3, 1), [[[[0, 0, 1, 1]]]] * 3)], 1)  # 3 / 2 clipped at 1
    assert three.masks([0], [0], (1, 3))[0].tolist() == [[1.0, 0.0, 0.0]]
    one = BoxRegions([((3, 1), [[[[0, 0, 2, 1], [1, 0, 3, 1]]]])], 1)
    assert one.masks([0], [0], (1, 3))[0].tolist() == [[1.0, 1.0, 1.0]]
    # An annotator's own overlapping boxes count once (union per annotator).
    own = BoxRegions([((3, 1), [[[[0, 0, 2, 1], [0, 0, 1, 1]]], [[]]])], 1)
    assert own.masks([0], [0], (1, 3))[0].tolist() == [[0.5, 0.5, 0.0]]
    # A segment nobody drew a box in has no ground truth; nor a missing video.
    regions = BoxRegions([((3, 1), [[[], [[0, 0, 1, 1]]]]), None], 3)
    assert regions.present.tolist() == [[False, True, False], [False, False, False]]


def _reference_chance(regions, size, maps):
    """Every random grid map scored against every segment, the EZ-VSL way."""
    cious = []
    for region in regions:
        gt = np.kron(region, np.ones((size[0] // region.shape[0], size[1] // region.shape[1])))
        cious += [_ez_vsl_ciou(m, gt) for m in maps]
    return _finalize(cious)


def test_chance_is_the_mean_over_seeded_random_grid_maps():
    rng = np.random.default_rng(2)
    regions = np.zeros((1, 3, 4, 4))
    regions[0, 0, :2, :2] = 1
    regions[0, 1, :, :3] = 1
    regions[0, 2, 1:, 1:] = 1
    size, count, seed = (16, 16), 6, 5
    result = ciou_metrics(rng.random((1, 3, 4, 4)), regions, np.ones((1, 3), bool),
                          image_size=size, chance_maps=count, seed=seed)
    maps = np.random.default_rng(seed).random((count, 4, 4))
    expected = _reference_chance(regions[0], size, maps)
    np.testing.assert_allclose(
        [result["ciou_chance"], result["ciou_ap50_chance"], result["ciou_auc_chance"]],
        expected, atol=1e-6)
    assert 0 < result["ciou_ap50_chance"] < 1  # regions up to 3/4 of the image


def test_chance_does_not_depend_on_the_model_and_is_stable_across_seeds():
    regions = np.zeros((1, 2, 7, 7))
    regions[0, 0, 1:4, 2:5] = 1
    regions[0, 1, :, :4] = 1
    event = np.ones((1, 2), bool)
    rng = np.random.default_rng(3)
    keys = ("ciou_chance", "ciou_ap50_chance", "ciou_auc_chance")
    first = ciou_metrics(rng.random((1, 2, 7, 7)), regions, event)
    second = ciou_metrics(rng.random((1, 2, 7, 7)), regions, event)
    assert [first[k] for k in keys] == [second[k] for k in keys]
    other_seed = ciou_metrics(rng.random((1, 2, 7, 7)), regions, event, seed=1)
    np.testing.assert_allclose([other_seed[k] for k in keys], [first[k] for k in keys],
                               atol=0.05)


def test_the_share_over_half_is_capped_by_the_region_size():
    """The median binarisation keeps half the image: a region below a quarter
    of it cannot reach cIoU 0.5 (3 of 49 cells: 3072 / 25088 at best), one of
    13 cells can (13312 >= 12544 pixels); a perfect map reaches the cap."""
    regions = np.zeros((1, 2, 7, 7))
    regions[0, 0, 0, :3] = 1
    regions[0, 1, :2, :6] = 1
    regions[0, 1, 2, 0] = 1
    perfect_map = regions + 1e-3 * np.arange(49).reshape(7, 7)
    perfect = ciou_metrics(perfect_map, regions,
                           np.ones((1, 2), bool), chance_maps=2)
    assert perfect["ciou_ap50_ceiling"] == 0.5
    assert perfect["ciou_ap50"] == 0.5
    # The small region's cIoU stays below its cap 3072 / 25088.
    small = ciou_metrics(perfect_map[:, :1], regions[:, :1], np.ones((1, 1), bool),
                         chance_maps=2)
    assert 0.1 < small["ciou"] <= 3072 / 25088
    # Soft ground truth: the best selection takes the 1s, then the 0.5s.
    soft = BoxRegions([((4, 1), [[[[0, 0, 2, 1]]], [[[0, 0, 1, 1]]]])], 1)
    result = ciou_metrics(np.ones((1, 1, 1, 2)) * [[[[0.0, 1.0]]]], soft,
                          np.ones((1, 1), bool), image_size=(2, 4), chance_maps=2)
    # gt [1, 0.5, 0, 0] per row; 4 of 8 pixels kept: the 1s and 0.5s: 3 / 3.
    assert result["ciou_ap50_ceiling"] == 1.0


def test_undefined_without_spatial_attention_or_segments():
    regions = np.zeros((2, 3, 7, 7))
    regions[:, :, 0, :3] = 1
    uniform = ciou_metrics(np.full((2, 3, 7, 7), 1 / 49), regions, np.ones((2, 3), bool),
                           chance_maps=2)
    assert uniform["ciou"] is None and uniform["ciou_auc"] is None
    assert uniform["ciou_segments"] == 6 and uniform["ciou_chance"] > 0
    empty = ciou_metrics(np.random.default_rng(0).random((2, 3, 7, 7)), regions,
                         np.zeros((2, 3), bool))
    assert empty["ciou_segments"] == 0
    assert empty["ciou"] is None and empty["ciou_chance"] is None


@pytest.mark.parametrize("size", [(224,), (1, 224), [224, 224.0], "224"])
def test_bad_image_size_is_a_clear_error(size):
    with pytest.raises(ValueError, match="image_size"):
        ciou_metrics(np.zeros((1, 1, 2, 2)), np.ones((1, 1, 2, 2)), np.ones((1, 1), bool),
                     image_size=size)


def test_definition_records_the_settings():
    definition = ciou_definition(CellRegions(np.ones((1, 1, 2, 2))), (112, 96), 10, 3)
    assert definition["image_size"] == [112, 96]
    assert definition["ciou_thresholds"] == [round(0.05 * i, 2) for i in range(21)]
    assert "10" in definition["chance"] and "seed 3" in definition["chance"]
