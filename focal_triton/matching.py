"""The focal matching cost of a DETR Hungarian matcher, one fused kernel over the per-image blocks."""

import itertools
from collections.abc import Sequence

import torch
import triton
from torch import Tensor

from focal_triton.kernels.matching_cost import detr_matching_cost_kernel

from . import reference
from ._backend import REFERENCE, backend_for
from ._launch_lock import serialized_launches
from ._validation import check_matching_cost_args

BLOCK_Q, BLOCK_T, NUM_WARPS = 32, 32, 4  # 8 cost entries a thread


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
    counts = check_matching_cost_args(logits, target_labels, sizes, alpha, gamma, boxes, target_boxes)
    weights = (float(cost_class), float(cost_bbox), float(cost_giou))
    if backend_for(logits) == REFERENCE:
        return reference.detr_matching_cost_checked(
            logits, target_labels, counts, alpha, gamma, boxes, target_boxes, weights
        )
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
