"""detr_matching_cost against the focal matchers of Deformable DETR / DINO / RT-DETR, transcribed in
float64: their full (B * Q, sum T_b) matrix, split per image, against the fused per-image blocks."""

import pytest
import torch
from oracle import logits as make_logits

import focal_triton
from focal_triton import reference


def box_cxcywh_to_xyxy(x):
    x_c, y_c, w, h = x.unbind(-1)
    return torch.stack([(x_c - 0.5 * w), (y_c - 0.5 * h), (x_c + 0.5 * w), (y_c + 0.5 * h)], dim=-1)


def generalized_box_iou(boxes1, boxes2):
    """DETR util/box_ops.py generalized_box_iou (box_iou inlined), transcribed."""
    area1 = (boxes1[:, 2] - boxes1[:, 0]) * (boxes1[:, 3] - boxes1[:, 1])
    area2 = (boxes2[:, 2] - boxes2[:, 0]) * (boxes2[:, 3] - boxes2[:, 1])
    lt = torch.max(boxes1[:, None, :2], boxes2[:, :2])
    rb = torch.min(boxes1[:, None, 2:], boxes2[:, 2:])
    wh = (rb - lt).clamp(min=0)
    inter = wh[:, :, 0] * wh[:, :, 1]
    union = area1[:, None] + area2 - inter
    iou = inter / union
    lt = torch.min(boxes1[:, None, :2], boxes2[:, :2])
    rb = torch.max(boxes1[:, None, 2:], boxes2[:, 2:])
    wh = (rb - lt).clamp(min=0)
    area = wh[:, :, 0] * wh[:, :, 1]
    return iou - (area - union) / area


def focal_matcher_cost(
    pred_logits, pred_boxes, tgt_ids, tgt_bbox, sizes, alpha=0.25, gamma=2.0, weights=(2, 5, 2), eps=1e-8
):
    """Deformable DETR models/matcher.py HungarianMatcher.forward (RT-DETR's use_focal_loss branch is
    the same), transcribed up to the split: the per-image blocks of the full cost matrix.  ``eps``:
    their 1e-8 inside the logarithms (0: the exact cost)."""
    cost_class_w, cost_bbox_w, cost_giou_w = weights
    bs, num_queries = pred_logits.shape[:2]
    out_prob = pred_logits.flatten(0, 1).sigmoid()
    out_bbox = pred_boxes.flatten(0, 1)
    neg_cost_class = (1 - alpha) * (out_prob**gamma) * (-(1 - out_prob + eps).log())
    pos_cost_class = alpha * ((1 - out_prob) ** gamma) * (-(out_prob + eps).log())
    cost_class = pos_cost_class[:, tgt_ids] - neg_cost_class[:, tgt_ids]
    cost_bbox = torch.cdist(out_bbox, tgt_bbox, p=1)
    cost_giou = -generalized_box_iou(box_cxcywh_to_xyxy(out_bbox), box_cxcywh_to_xyxy(tgt_bbox))
    C = cost_bbox_w * cost_bbox + cost_class_w * cost_class + cost_giou_w * cost_giou
    C = C.view(bs, num_queries, -1)
    return [c[i] for i, c in enumerate(C.split(sizes, -1))]


def detr_targets(device, batch, queries, classes, sizes, dtype=torch.float32):
    generator = torch.Generator().manual_seed(3)
    x = make_logits((batch, queries, classes), device, dtype)
    labels = torch.randint(0, classes, (sum(sizes),), generator=generator).to(device)
    boxes = (torch.rand(batch, queries, 4, generator=generator) * 0.4 + 0.3).to(device)
    target_boxes = (torch.rand(sum(sizes), 4, generator=generator) * 0.4 + 0.3).to(device)
    return x, labels, boxes, target_boxes


def eps_bound(pred_logits, tgt_ids, sizes, alpha=0.25, cost_class=2.0, eps=1e-8):
    """Per block, the most the matchers' + eps moves a class cost: log(1 + eps / p) and
    log(1 + eps / (1 - p)) weighted by at most alpha and 1 - alpha."""
    p = pred_logits.flatten(0, 1).double().sigmoid()[:, tgt_ids]
    bound = cost_class * (alpha * torch.log1p(eps / p) + (1 - alpha) * torch.log1p(eps / (1 - p)))
    return [c[i] for i, c in enumerate(bound.view(*pred_logits.shape[:2], -1).split(sizes, -1))]


@pytest.mark.parametrize("sizes", [[3, 0, 17], [1, 40], [0, 0]])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_blocks_equal_the_focal_matchers(device, sizes, dtype):
    """The exact cost (the matchers' formula without their + 1e-8), and within the + 1e-8's effect
    of their numbers; bfloat16 logits are read as they are."""
    x, labels, boxes, target_boxes = detr_targets(device, len(sizes), 33, 80, sizes, dtype)
    got = focal_triton.detr_matching_cost(x, labels, sizes, boxes=boxes, target_boxes=target_boxes)
    args = (x.cpu().double(), boxes.cpu().double(), labels.cpu(), target_boxes.cpu().double(), sizes)
    exact, theirs = focal_matcher_cost(*args, eps=0.0), focal_matcher_cost(*args)
    bounds = eps_bound(x.cpu(), labels.cpu(), sizes)
    assert got.shape == (len(sizes), 33, max(sizes)) and got.dtype == torch.float32
    for b, (block, their_block, bound) in enumerate(zip(exact, theirs, bounds, strict=True)):
        ours = got[b, :, : sizes[b]].cpu().double()
        torch.testing.assert_close(ours, block, rtol=1e-5, atol=2e-5)
        assert ((ours - their_block).abs() <= bound + 2e-5 + 1e-5 * block.abs()).all()
        assert torch.isinf(got[b, :, sizes[b] :]).all()


def test_class_cost_alone_and_other_weights(device):
    sizes = [4, 9]
    x, labels, boxes, target_boxes = detr_targets(device, 2, 20, 91, sizes)
    got = focal_triton.detr_matching_cost(x, labels, sizes, alpha=0.5, gamma=1.5, cost_class=1.0)
    zero_boxes = torch.zeros(2, 20, 4, dtype=torch.float64) + 0.5
    want = focal_matcher_cost(
        x.cpu().double(),
        zero_boxes,
        labels.cpu(),
        zero_boxes[0, :1].expand(sum(sizes), 4),
        sizes,
        0.5,
        1.5,
        (1, 0, 0),
        eps=0.0,
    )
    for b, block in enumerate(want):
        torch.testing.assert_close(got[b, :, : sizes[b]].cpu().double(), block, rtol=1e-5, atol=2e-5)


def test_extreme_logits_give_the_exact_limits(device):
    """At |x| = 30 the matchers' + 1e-8 floors -log p at 18.4; the stable forms give the exact cost."""
    x = torch.tensor([[[-30.0, 30.0]]], device=device)
    got = focal_triton.detr_matching_cost(x, torch.tensor([0, 1], device=device), [2], cost_class=1.0)
    exact = reference.detr_matching_cost_checked(
        x.cpu().double(), torch.tensor([0, 1]), [2], 0.25, 2.0, None, None, (1.0, 0.0, 0.0)
    )
    torch.testing.assert_close(got.cpu(), exact)
    assert got[0, 0, 0] == pytest.approx(0.25 * 30.0, rel=1e-5)  # alpha (1 - p) ** 2 (-log p), p = sigmoid(-30)


def test_cpu_fallback_matches_the_kernel(monkeypatch, device):
    sizes = [5, 2]
    x, labels, boxes, target_boxes = detr_targets(device, 2, 10, 7, sizes)
    kernel = focal_triton.detr_matching_cost(x, labels, sizes, boxes=boxes, target_boxes=target_boxes)
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    fallback = focal_triton.detr_matching_cost(
        x.cpu(), labels.cpu(), sizes, boxes=boxes.cpu(), target_boxes=target_boxes.cpu()
    )
    torch.testing.assert_close(fallback, kernel.cpu(), rtol=1e-5, atol=1e-5)


def test_bad_arguments_name_what_was_expected():
    x = torch.randn(2, 5, 3)
    with pytest.raises(ValueError, match="sizes must give B = 2"):
        focal_triton.detr_matching_cost(x, torch.tensor([0]), [1])
    with pytest.raises(ValueError, match="sum\\(sizes\\) = 3"):
        focal_triton.detr_matching_cost(x, torch.tensor([0, 1]), [1, 2])
    with pytest.raises(ValueError, match="boxes and target_boxes go together"):
        focal_triton.detr_matching_cost(x, torch.tensor([0]), [1, 0], boxes=torch.rand(2, 5, 4))
    with pytest.raises(ValueError, match="alpha must be in"):
        focal_triton.detr_matching_cost(x, torch.tensor([0]), [1, 0], alpha=2.0)
