"""The paper's CAM mIoU (thresholded CAM vs ground truth) and the segmentation mIoU."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from repcam_core.errors import ConfigError
from repcam_core.evaluation.iou import (
    DEFAULT_CURVE,
    DEFAULT_THRESHOLD,
    IoUAccumulator,
    SegmentationAccumulator,
    segmentation_from_cams,
)

# 4x4 hand case. Mask values: 1 = class 0, 2 = class 1, 255 = void.
MASK = torch.tensor(
    [[1, 1, 0, 0],
     [1, 1, 0, 255],
     [0, 0, 0, 255],
     [2, 2, 0, 0]], dtype=torch.uint8)
CAM = torch.tensor(
    [[0.9, 0.1, 0.5, 0.0],
     [0.2, 0.8, 0.0, 0.9],
     [0.0, 0.6, 0.0, 0.7],
     [0.3, 0.0, 0.0, 0.0]])
# Class 0, t = 0.15: predicted (cam >= t) non-void pixels are (0,0) (0,2) (1,0) (1,1) (2,1)
# (3,0) = 6; the void pixels (1,3) and (2,3) are predicted but ignored. GT = 4 pixels, of which
# (0,0) (1,0) (1,1) are predicted -> I = 3, U = 4 + 6 - 3 = 7, IoU = 3/7 (3/9 if void counted).
# t = 0.5: predicted non-void (0,0) (0,2) (1,1) (2,1) = 4, I = 2, U = 4 + 4 - 2 = 6 -> 1/3.
# t = 0.95: nothing predicted, I = 0, U = 4 -> 0.


def test_void_pixels_are_ignored():
    acc = IoUAccumulator(2)
    acc.update(0, CAM[None], MASK[None])
    assert acc.intersection[0, 0] == 3 and acc.union[0, 0] == 7
    assert acc.per_class()[0] == pytest.approx(3 / 7)


def test_several_thresholds_at_once():
    acc = IoUAccumulator(2, thresholds=(0.15, 0.5, 0.95))
    acc.update(0, CAM[None], MASK[None])
    np.testing.assert_allclose(acc.iou()[0], [3 / 7, 1 / 3, 0.0])
    assert acc.miou(t_index=1) == pytest.approx(1 / 3)


def test_target_class_uses_mask_value_c_plus_one():
    # class 1 = mask value 2: GT (3,0) (3,1); predicted at 0.15 as above (6) -> I = 1, U = 7
    acc = IoUAccumulator(2)
    acc.update(1, CAM, MASK)  # unbatched [H, W] is accepted too
    assert acc.per_class()[1] == pytest.approx(1 / 7)


def test_accumulates_pixels_not_per_image_ious():
    # image 1: GT one pixel, predicted exactly (IoU 1); image 2: GT three pixels, none
    # predicted (IoU 0). Summed: I = 1, U = 1 + 3 = 4 -> 0.25 (mean of image IoUs would be 0.5).
    masks = torch.tensor([[[1, 0], [0, 0]], [[1, 1], [1, 0]]], dtype=torch.uint8)
    cams = torch.tensor([[[0.9, 0.0], [0.0, 0.0]], [[0.0, 0.0], [0.0, 0.0]]])
    batched = IoUAccumulator(1)
    batched.update(0, cams, masks)
    one_by_one = IoUAccumulator(1)
    one_by_one.update(0, cams[:1], masks[:1])
    one_by_one.update(0, cams[1:], masks[1:])
    assert batched.miou() == pytest.approx(0.25)
    assert one_by_one.miou() == pytest.approx(0.25)
    assert batched.images[0] == 2


def test_unseen_classes_are_nan_and_left_out_of_the_mean():
    acc = IoUAccumulator(3)
    acc.update(0, CAM[None], MASK[None])
    iou = acc.per_class()
    assert iou[0] == pytest.approx(3 / 7)
    assert np.isnan(iou[1]) and np.isnan(iou[2])
    assert acc.miou() == pytest.approx(3 / 7)


def test_nothing_evaluated_gives_nan_miou():
    assert np.isnan(IoUAccumulator(2).miou())


def test_threshold_is_inclusive():
    acc = IoUAccumulator(1, thresholds=(0.5,))
    acc.update(0, torch.tensor([[0.5, 0.4]]), torch.tensor([[1, 1]], dtype=torch.uint8))
    assert acc.per_class()[0] == pytest.approx(0.5)


def test_merge_equals_one_accumulator_and_state_survives_json():
    a, b, both = (IoUAccumulator(2, (0.15, 0.5)) for _ in range(3))
    a.update(0, CAM[None], MASK[None])
    b.update(1, CAM[None], MASK[None])
    both.update(0, CAM[None], MASK[None])
    both.update(1, CAM[None], MASK[None])
    a.merge(b)
    np.testing.assert_array_equal(a.intersection, both.intersection)
    np.testing.assert_array_equal(a.union, both.union)
    restored = IoUAccumulator.from_state_dict(json.loads(json.dumps(a.state_dict())))
    np.testing.assert_array_equal(restored.iou(), a.iou())
    np.testing.assert_array_equal(restored.thresholds, [0.15, 0.5])


def test_merge_rejects_different_thresholds():
    with pytest.raises(ConfigError, match="different classes or thresholds"):
        IoUAccumulator(2).merge(IoUAccumulator(2, (0.5,)))


def test_update_rejects_bad_input():
    acc = IoUAccumulator(2)
    with pytest.raises(ConfigError, match="class index 2 is out of range"):
        acc.update(2, CAM, MASK)
    with pytest.raises(ConfigError, match="differ"):
        acc.update(0, CAM[None], MASK[None, :2])


def test_defaults_match_the_paper():
    assert DEFAULT_THRESHOLD == 0.15
    assert DEFAULT_CURVE[0] == 0.05 and DEFAULT_CURVE[-1] == 0.95 and len(DEFAULT_CURVE) == 19
    assert 0.15 in DEFAULT_CURVE


def test_segmentation_argmax_with_background_plane():
    # pixels: (.1,.2) -> bg; (.5,.4) -> class 0 = label 1; (.3,.6) -> label 2; (.3,.1) tie -> bg
    cams = torch.tensor([[0.1, 0.5, 0.3, 0.3], [0.2, 0.4, 0.6, 0.1]]).reshape(1, 2, 1, 4)
    labels = segmentation_from_cams(cams, bg_threshold=0.3)
    assert labels.dtype == torch.uint8
    assert labels.tolist() == [[[0, 1, 2, 0]]]


def test_segmentation_miou_includes_background_and_ignores_void():
    # valid pixels: (gt 0, pred 0), (gt 1, pred 1), (gt 1, pred 2); the void one predicts 1.
    # IoU bg = 1/1; class label 1: TP 1, U = 2 + 1 - 1 = 2 -> 0.5; label 2: TP 0, U 1 -> 0.
    pred = torch.tensor([[[0, 1], [1, 2]]], dtype=torch.uint8)
    masks = torch.tensor([[[0, 1], [255, 1]]], dtype=torch.uint8)
    acc = SegmentationAccumulator(2)
    acc.update(pred, masks)
    np.testing.assert_allclose(acc.iou(), [1.0, 0.5, 0.0])
    assert acc.miou() == pytest.approx(0.5)


def test_segmentation_rejects_labels_out_of_range():
    acc = SegmentationAccumulator(2)
    with pytest.raises(ConfigError, match="predicted labels must be 0..2"):
        acc.update(torch.tensor([[3]]), torch.tensor([[0]], dtype=torch.uint8))


def test_chunked_threshold_counts_match_a_plain_loop(monkeypatch):
    import repcam_core.evaluation.iou as evaluate

    monkeypatch.setattr(evaluate, "_CHUNK_ELEMENTS", 50)  # force several chunks
    gen = torch.Generator().manual_seed(0)
    cams = torch.rand(3, 5, 7, generator=gen)
    masks = torch.randint(0, 3, (3, 5, 7), generator=gen).to(torch.uint8)
    masks[0, 0, :3] = 255
    acc = evaluate.IoUAccumulator(2, DEFAULT_CURVE)
    acc.update(1, cams, masks)
    valid, gt = masks != 255, masks == 2
    for ti, t in enumerate(DEFAULT_CURVE):
        pred = cams >= float(t)
        assert acc.intersection[1, ti] == int((pred & gt & valid).sum())
        assert acc.union[1, ti] == int(((pred | gt) & valid).sum())
