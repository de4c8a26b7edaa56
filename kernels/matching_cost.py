"""The focal matching cost of a DETR Hungarian matcher, block-diagonal: for each image b only its
(Q, T_b) block of the cost matrix, never the (B * Q, sum T_b) matrix the matchers build and slice.

Math (x = the logit of query q at target t's class, p = sigmoid(x), sp = softplus; Deformable
DETR's FocalLossCost without its + 1e-8 inside the logarithms):

    -log p = sp(-x),  -log(1 - p) = sp(x)                     (``stable_math.sigmoid_softplus``)
    class  = alpha (1 - p) ** gamma sp(-x) - (1 - alpha) p ** gamma sp(x)
    bbox   = |cx - cx'| + |cy - cy'| + |w - w'| + |h - h'|    (L1 between cxcywh boxes)
    giou   = -GIoU(xyxy, xyxy')
    cost   = cost_class * class + cost_bbox * bbox + cost_giou * giou

(1 - p) ** gamma = exp(-gamma * sp(x)) and p ** gamma = exp(-gamma * sp(-x)): no logarithm of p.
Forward only (the matcher runs under no_grad).  Bytes per cost entry: one 4-byte write; the
logits and boxes are gathered from L2 (each query's row is read by every target of its image).
"""

import triton
import triton.language as tl

from .stable_math import LOG2E, sigmoid_softplus


@triton.jit
def _box_corners(cx, cy, w, h):
    return cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h


@triton.jit
def detr_matching_cost_kernel(
    # ---- pointers
    x_ptr,  # (B, Q, C) logits
    labels_ptr,  # (sum T_b,) target classes, image after image
    starts_ptr,  # (B + 1,) int64: image b's targets are labels[starts[b] : starts[b + 1]]
    boxes_ptr,  # (B, Q, 4) predicted cxcywh boxes (HAS_BOXES)
    target_boxes_ptr,  # (sum T_b, 4) target cxcywh boxes (HAS_BOXES)
    cost_ptr,  # out: (B, Q, T_max) float32; +inf past T_b
    # ---- sizes and strides (elements)
    Q,
    T_max,
    stride_xb,
    stride_xq,
    stride_xc,
    stride_bb,
    stride_bq,
    # ---- scalars
    alpha,
    gamma,
    cost_class,
    cost_bbox,
    cost_giou,
    # ---- meta-parameters
    BLOCK_Q: tl.constexpr,
    BLOCK_T: tl.constexpr,
):
    """One program: BLOCK_Q queries x BLOCK_T targets of image ``program_id(0)``."""
    HAS_BOXES: tl.constexpr = boxes_ptr is not None
    b = tl.program_id(0).to(tl.int64)
    q = tl.program_id(1) * BLOCK_Q + tl.arange(0, BLOCK_Q)
    t = tl.program_id(2) * BLOCK_T + tl.arange(0, BLOCK_T)
    start = tl.load(starts_ptr + b)
    count = tl.load(starts_ptr + b + 1) - start
    q_mask = q < Q
    t_mask = t < count
    mask = q_mask[:, None] & t_mask[None, :]
    # 1. the class cost, from each query's logit at each target's class (a gather from L2)
    label = tl.load(labels_ptr + start + t, mask=t_mask, other=0)
    x = tl.load(
        x_ptr + b * stride_xb + q[:, None].to(tl.int64) * stride_xq + label[None, :] * stride_xc, mask=mask, other=0.0
    ).to(tl.float32)
    _, _, sp_pos, sp_neg = sigmoid_softplus(x)  # -log(1 - p), -log p
    positive = alpha * tl.exp2(sp_pos * (gamma * -LOG2E)) * sp_neg  # alpha (1 - p) ** gamma (-log p)
    negative = (1.0 - alpha) * tl.exp2(sp_neg * (gamma * -LOG2E)) * sp_pos  # (1 - alpha) p ** gamma (-log(1 - p))
    cost = cost_class * (positive - negative)
    if HAS_BOXES:
        # 2. L1 between cxcywh boxes and -GIoU between their corners
        out = boxes_ptr + b * stride_bb + q.to(tl.int64) * stride_bq
        tgt = target_boxes_ptr + (start + t) * 4
        cx = tl.load(out + 0, mask=q_mask, other=0.0).to(tl.float32)[:, None]
        cy = tl.load(out + 1, mask=q_mask, other=0.0).to(tl.float32)[:, None]
        w = tl.load(out + 2, mask=q_mask, other=0.0).to(tl.float32)[:, None]
        h = tl.load(out + 3, mask=q_mask, other=0.0).to(tl.float32)[:, None]
        tcx = tl.load(tgt + 0, mask=t_mask, other=0.0).to(tl.float32)[None, :]
        tcy = tl.load(tgt + 1, mask=t_mask, other=0.0).to(tl.float32)[None, :]
        tw = tl.load(tgt + 2, mask=t_mask, other=0.0).to(tl.float32)[None, :]
        th = tl.load(tgt + 3, mask=t_mask, other=0.0).to(tl.float32)[None, :]
        l1 = tl.abs(cx - tcx) + tl.abs(cy - tcy) + tl.abs(w - tw) + tl.abs(h - th)
        x0, y0, x1, y1 = _box_corners(cx, cy, w, h)
        tx0, ty0, tx1, ty1 = _box_corners(tcx, tcy, tw, th)
        area = (x1 - x0) * (y1 - y0)
        target_area = (tx1 - tx0) * (ty1 - ty0)
        inter = tl.maximum(tl.minimum(x1, tx1) - tl.maximum(x0, tx0), 0.0) * tl.maximum(
            tl.minimum(y1, ty1) - tl.maximum(y0, ty0), 0.0
        )
        union = area + target_area - inter
        enclose = (tl.maximum(x1, tx1) - tl.minimum(x0, tx0)) * (tl.maximum(y1, ty1) - tl.minimum(y0, ty0))
        giou = inter / union - (enclose - union) / enclose
        cost += cost_bbox * l1 - cost_giou * giou
    # 3. the padded block: +inf past the image's targets
    cost = tl.where(t_mask[None, :], cost, float("inf"))
    out_mask = q_mask[:, None] & (t < T_max)[None, :]
    tl.store(cost_ptr + (b * Q + q[:, None]).to(tl.int64) * T_max + t[None, :], cost, mask=out_mask)
