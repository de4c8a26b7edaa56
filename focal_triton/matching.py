"""The focal matching cost of a DETR Hungarian matcher, one fused kernel over the per-image blocks."""

import itertools
from collections.abc import Sequence

import torch
import triton
from torch import Tensor

from focal_triton.kernels.matching_cost import detr_matching_cost_kernel

from ._backend import REFERENCE, backend_for
from ._launch_lock import serialized_launches

BLOCK_Q, BLOCK_T, NUM_WARPS = 32, 32, 4  # 8 cost entries a thread


def _check(
    logits: Tensor,
    target_labels: Tensor,
    sizes: Sequence[int],
    alpha: float,
    gamma: float,
    boxes: Tensor | None,
    target_boxes: Tensor | None,
) -> list[int]:
    """The checks of detr_matching_cost; returns the sizes as ints."""
    if not isinstance(logits, Tensor) or logits.dim() != 3 or not logits.is_floating_point():
        raise ValueError(f"logits must be a floating (B, Q, C) tensor, got {getattr(logits, 'shape', type(logits))}")
    counts = [int(size) for size in sizes]
    if len(counts) != logits.shape[0] or min(counts, default=0) < 0:
        raise ValueError(f"sizes must give B = {logits.shape[0]} target counts >= 0, got {list(sizes)}")
    if (
        not isinstance(target_labels, Tensor)
        or target_labels.dim() != 1
        or target_labels.is_floating_point()
        or target_labels.numel() != sum(counts)
    ):
        raise ValueError(
            f"target_labels must be a 1-D integer tensor of sum(sizes) = {sum(counts)} classes, image after image, "
            f"got {getattr(target_labels, 'dtype', type(target_labels))} of shape "
            f"{tuple(getattr(target_labels, 'shape', ()))}"
        )
    if target_labels.device != logits.device:
        raise ValueError(f"target_labels must be on the device of logits ({logits.device}), got {target_labels.device}")
    if not 0.0 <= alpha <= 1.0 or not gamma >= 0.0:
        raise ValueError(f"alpha must be in [0, 1] and gamma >= 0, got alpha={alpha!r}, gamma={gamma!r}")
    if (boxes is None) != (target_boxes is None):
        raise ValueError("boxes and target_boxes go together: pass both (cxcywh) or neither")
    if boxes is not None and target_boxes is not None:
        if boxes.shape != (*logits.shape[:2], 4) or target_boxes.shape != (sum(counts), 4):
            raise ValueError(
                f"boxes must be (B, Q, 4) = {(*logits.shape[:2], 4)} and target_boxes (sum(sizes), 4) = "
                f"{(sum(counts), 4)}, got {tuple(boxes.shape)} and {tuple(target_boxes.shape)}"
            )
        if boxes.device != logits.device or target_boxes.device != logits.device:
            raise ValueError("boxes and target_boxes must be on the device of logits")
    return counts


def _cxcywh_to_xyxy(boxes: Tensor) -> Tensor:
    cx, cy, w, h = boxes.unbind(-1)
    return torch.stack([cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h], dim=-1)


def _giou(a: Tensor, b: Tensor) -> Tensor:
    """GIoU of every xyxy box of ``a`` (Q, 4) with every one of ``b`` (T, 4)."""
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    inter = (
        (torch.min(a[:, None, 2:], b[None, :, 2:]) - torch.max(a[:, None, :2], b[None, :, :2])).clamp(min=0).prod(-1)
    )
    union = area_a[:, None] + area_b[None, :] - inter
    enclose = (torch.max(a[:, None, 2:], b[None, :, 2:]) - torch.min(a[:, None, :2], b[None, :, :2])).prod(-1)
    return inter / union - (enclose - union) / enclose


def matching_cost_reference(
    logits: Tensor,
    target_labels: Tensor,
    counts: list[int],
    alpha: float,
    gamma: float,
    boxes: Tensor | None,
    target_boxes: Tensor | None,
    weights: tuple[float, float, float],
) -> Tensor:
    """The same blocks in float64 eager PyTorch (the fallback where Triton cannot run a tensor)."""
    cost_class, cost_bbox, cost_giou = weights
    batch, queries = logits.shape[:2]
    out = torch.full((batch, queries, max(counts, default=0)), float("inf"), dtype=torch.float64, device=logits.device)
    start = 0
    for b, count in enumerate(counts):
        labels = target_labels[start : start + count]
        x = logits[b].double()[:, labels]
        positive = alpha * torch.exp(-gamma * torch.nn.functional.softplus(x)) * torch.nn.functional.softplus(-x)
        negative = (1 - alpha) * torch.exp(-gamma * torch.nn.functional.softplus(-x)) * torch.nn.functional.softplus(x)
        cost = cost_class * (positive - negative)
        if boxes is not None and target_boxes is not None:
            out_boxes, tgt = boxes[b].double(), target_boxes[start : start + count].double()
            cost = cost + cost_bbox * torch.cdist(out_boxes, tgt, p=1)
            cost = cost - cost_giou * _giou(_cxcywh_to_xyxy(out_boxes), _cxcywh_to_xyxy(tgt))
        out[b, :, :count] = cost
        start += count
    return out.float()


def detr_matching_cost(
    logits: Tensor,
    target_labels: Tensor,
    sizes: Sequence[int],
    alpha: float = 0.25,
    gamma: float = 2.0,
    *,
    boxes: Tensor | None = None,
    target_boxes: Tensor | None = None,
    cost_class: float = 2.0,
    cost_bbox: float = 5.0,
    cost_giou: float = 2.0,
) -> Tensor:
    """The focal matching cost of a DETR Hungarian matcher, only the per-image blocks.

    For each image b, the (Q, T_b) matrix cost_class * [alpha (1 - p) ** gamma (-log p)
    - (1 - alpha) p ** gamma (-log(1 - p))] at the targets' classes (p = sigmoid(logits)), plus,
    with boxes, cost_bbox * L1(cxcywh) - cost_giou * GIoU: Deformable DETR's / DINO's /
    RT-DETR's matcher cost, from stable log-sigmoid forms (their ``+ 1e-8`` inside the logarithms
    left out), forward only (no gradient).

    Args:
        logits: (B, Q, C) class logits.
        target_labels: (sum T_b,) integer target classes, image after image (``torch.cat`` of the
            targets' labels).
        sizes: the B target counts T_b, host integers (``[len(t["labels"]) for t in targets]``).
        alpha: in [0, 1].  Default 0.25.
        gamma: >= 0.  Default 2.
        boxes: keyword-only; (B, Q, 4) predicted cxcywh boxes, with ``target_boxes``.
        target_boxes: keyword-only; (sum T_b, 4) target cxcywh boxes.
        cost_class: keyword-only; the class cost's weight.  Default 2.
        cost_bbox: keyword-only; the L1 cost's weight.  Default 5.
        cost_giou: keyword-only; the GIoU cost's weight.  Default 2.

    Returns:
        A float32 (B, Q, max T_b) tensor, +inf past each image's targets: image b's block is
        ``cost[b, :, :sizes[b]]``, ready for ``scipy.optimize.linear_sum_assignment``.
    """
    counts = _check(logits, target_labels, sizes, alpha, gamma, boxes, target_boxes)
    weights = (float(cost_class), float(cost_bbox), float(cost_giou))
    if backend_for(logits) == REFERENCE:
        return matching_cost_reference(logits, target_labels, counts, alpha, gamma, boxes, target_boxes, weights)
    batch, queries, _ = logits.shape
    t_max = max(counts, default=0)
    cost = torch.empty((batch, queries, t_max), dtype=torch.float32, device=logits.device)
    if cost.numel() == 0:
        return cost
    # host integers to the device: a copy, not a sync
    starts = torch.tensor([0, *itertools.accumulate(counts)], dtype=torch.int64).to(logits.device)
    if boxes is not None and target_boxes is not None:
        boxes, target_boxes = boxes.contiguous(), target_boxes.contiguous()
    grid = (batch, triton.cdiv(queries, BLOCK_Q), triton.cdiv(t_max, BLOCK_T))
    with serialized_launches(logits):
        detr_matching_cost_kernel[grid](
            x_ptr=logits,
            labels_ptr=target_labels,
            starts_ptr=starts,
            boxes_ptr=boxes,
            target_boxes_ptr=target_boxes,
            cost_ptr=cost,
            Q=queries,
            T_max=t_max,
            stride_xb=logits.stride(0),
            stride_xq=logits.stride(1),
            stride_xc=logits.stride(2),
            stride_bb=boxes.stride(0) if boxes is not None else 0,
            stride_bq=boxes.stride(1) if boxes is not None else 0,
            alpha=float(alpha),
            gamma=float(gamma),
            cost_class=weights[0],
            cost_bbox=weights[1],
            cost_giou=weights[2],
            BLOCK_Q=BLOCK_Q,
            BLOCK_T=BLOCK_T,
            num_warps=NUM_WARPS,
        )
    return cost
