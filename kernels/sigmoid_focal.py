"""Binary (sigmoid) focal loss: loss and dL/dx in one pass over logits and targets of the same
shape (``sigmoid_focal_fwd_kernel``), or over (N, C, *) logits against the implicit one-hot of
(N, *) class indices (``sigmoid_focal_index_fwd_kernel``, the walk of ``class_walk``).

Math (x logit, t target in [0, 1], sp = softplus; see ``stable_math``):

    -log p = sp(-x), -log(1 - p) = sp(x), p = sigmoid(x), q = 1 - p   (``sigmoid_parts``)
    ce      = t * sp(-x) + (1 - t) * sp(x)                   (BCE with logits)
    1 - p_t = t * q + (1 - t) * p                            (no 1 - p cancellation)
    w       = (1 - p_t) ** gamma
    loss    = alpha_t * w * ce
    dL/dx   = alpha_t * w * [(p - t) + gamma * (1 - 2t) * ce * p * q / (1 - p_t)]

from d(1 - p_t)/dx = (1 - 2t) p q and dce/dx = p - t.  p * q / (1 - p_t) is at
most max(p, q) <= 1 (the denominator is a convex mix of q and p) and is taken as
0 where 1 - p_t underflows to 0, so no (1 - p_t) ** (gamma - 1) is ever formed:
the gradient is finite for 0 < gamma < 1 at p_t -> 1.  p - t is written as
(1 - t) p - t q, exact for hard labels.

Hard labels (bool / uint8 targets, nonzero = positive) take a shorter path on
the signed margin s = x for positives, -x for negatives: p_t = sigmoid(s),
ce = sp(-s), w = exp(-gamma * sp(s)) (no logarithm of 1 - p_t at all) and
dL/dx = -sign * alpha_t * w * [(1 - p_t) + gamma * p_t * ce].
"""

import triton
import triton.language as tl

from .class_walk import class_offsets, class_rows
from .reduce import REDUCE_CHUNK, chunk_sums
from .stable_math import (
    ANY_GAMMA,
    LOG2E,
    clamp_infinities,
    float64_scalar,
    focal_power,
    ratio_or_zero,
    sigmoid_parts,
)


@triton.jit
def soft_label_terms(x, t, gamma, GAMMA: tl.constexpr):
    """Elementwise (loss, dL/dx) without alpha for float targets t in [0, 1]."""
    e, r, log1p_e = sigmoid_parts(x)
    positive_x = x >= 0.0
    p = tl.where(positive_x, r, e * r)
    q = tl.where(positive_x, e * r, r)
    sp_pos = tl.maximum(x, 0.0) + log1p_e  # softplus(x) = -log(1 - p)
    sp_neg = tl.maximum(-x, 0.0) + log1p_e  # softplus(-x) = -log p
    ce = t * sp_neg + (1.0 - t) * sp_pos
    one_minus_pt = t * q + (1.0 - t) * p
    w = focal_power(one_minus_pt, gamma, GAMMA)
    pq_over = ratio_or_zero(p * q, one_minus_pt)
    p_minus_t = (1.0 - t) * p - t * q
    # ce * pq_over first: 0 (not 0 * inf) for a clamped infinite logit
    return w * ce, w * (p_minus_t + gamma * (1.0 - 2.0 * t) * (ce * pq_over))


@triton.jit
def hard_label_terms(x, positive, gamma, GAMMA: tl.constexpr):
    """Elementwise (loss, dL/dx) without alpha for boolean labels ``positive``."""
    e, r, log1p_e = sigmoid_parts(x)
    margin = tl.where(positive, x, -x)
    correct = margin >= 0.0
    p_t = tl.where(correct, r, e * r)
    one_minus_pt = tl.where(correct, e * r, r)
    ce = tl.maximum(-margin, 0.0) + log1p_e  # softplus(-margin) = -log p_t
    if GAMMA == ANY_GAMMA:
        # w = exp(-gamma * softplus(margin)) = exp2(-gamma * log2(e) * softplus(margin))
        # (multiplied left to right, so float64 math keeps the constant in float64)
        w = tl.exp2((tl.maximum(margin, 0.0) + log1p_e) * gamma * -LOG2E)
    else:
        w = focal_power(one_minus_pt, gamma, GAMMA)
    g = w * (one_minus_pt + gamma * (p_t * ce))
    return w * ce, tl.where(positive, -g, g)


@triton.jit
def sigmoid_focal_fwd_kernel(
    x_ptr,  # logits, n elements, contiguous
    t_ptr,  # targets, n elements, contiguous: float, or uint8 labels (bool viewed as uint8)
    loss_ptr,  # out: n losses (REDUCE False) in the loss dtype
    partial_ptr,  # out: one partial sum per REDUCE_CHUNK elements (REDUCE True), COMPUTE dtype
    grad_ptr,  # out: n gradients dL/dx / denominator (WRITE_GRAD True), in the gradient buffer's dtype
    count_ptr,  # COUNT_ON_DEVICE: 0-d count of non-ignored elements, the 'mean' denominator
    n,
    alpha,  # each float scalar comes with its float64 remainder (see stable_math.float64_scalar)
    alpha_remainder,
    gamma,
    gamma_remainder,
    grad_denominator,  # n for 'mean' (without COUNT_ON_DEVICE), 1 otherwise
    grad_denominator_remainder,
    ignore_label,  # IGNORE: uint8 labels equal to it contribute no loss and no gradient
    size_bucket,  # autotune key only: ceil(log2(n))
    HAS_ALPHA: tl.constexpr,
    GAMMA: tl.constexpr,  # gamma at compile time: 0, 1, 2, or ANY_GAMMA (see stable_math.focal_power)
    HARD_LABELS: tl.constexpr,  # targets are uint8 labels: nonzero = positive
    IGNORE: tl.constexpr,  # HARD_LABELS only: skip labels equal to ignore_label
    COUNT_ON_DEVICE: tl.constexpr,  # 'mean' over the non-ignored count at count_ptr
    REDUCE: tl.constexpr,
    WRITE_GRAD: tl.constexpr,
    COMPUTE: tl.constexpr,  # tl.float32, or tl.float64 for float64 logits
    BLOCK: tl.constexpr,  # a multiple of REDUCE_CHUNK
):
    pid = tl.program_id(0).to(tl.int64)
    offs = pid * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    alpha = float64_scalar(alpha, alpha_remainder, COMPUTE)
    gamma = float64_scalar(gamma, gamma_remainder, COMPUTE)
    raw_x = tl.load(x_ptr + offs, mask=mask, other=0.0).to(COMPUTE)
    x = clamp_infinities(raw_x)
    t = tl.load(t_ptr + offs, mask=mask, other=0)
    if HARD_LABELS:
        positive = t != 0
        loss, grad = hard_label_terms(x, positive, gamma, GAMMA)
        alpha_t = tl.where(positive, alpha, 1.0 - alpha)
        # an infinite logit on the wrong side of its label: the loss is infinite
        infinite = tl.where(positive, raw_x == -float("inf"), raw_x == float("inf"))
    else:
        t = t.to(COMPUTE)
        loss, grad = soft_label_terms(x, t, gamma, GAMMA)
        alpha_t = alpha * t + (1.0 - alpha) * (1.0 - t)
        infinite = ((raw_x == float("inf")) & (t < 1.0)) | ((raw_x == -float("inf")) & (t > 0.0))
        # a target outside [0, 1] has no probability meaning: NaN loss and gradient
        outside = tl.where((t < 0.0) | (t > 1.0), float("nan"), 0.0)
        loss += outside
        grad += outside
    if HAS_ALPHA:
        loss = alpha_t * loss
        grad = alpha_t * grad
    loss = tl.where(infinite & (loss > 0.0), float("inf"), loss)
    if IGNORE:
        kept = t != ignore_label
        loss = tl.where(kept, loss, 0.0)
        grad = tl.where(kept, grad, 0.0)
    if REDUCE:
        chunk = pid * (BLOCK // REDUCE_CHUNK) + tl.arange(0, BLOCK // REDUCE_CHUNK)
        sums = chunk_sums(tl.where(mask, loss, 0.0), BLOCK)
        tl.store(partial_ptr + chunk, sums, mask=chunk * REDUCE_CHUNK < n)
    else:
        tl.store(loss_ptr + offs, loss.to(loss_ptr.dtype.element_ty), mask=mask)
    if WRITE_GRAD:
        if COUNT_ON_DEVICE:
            count = tl.load(count_ptr).to(COMPUTE)
            denominator = tl.where(count > 0, count, 1.0)
        else:
            denominator = float64_scalar(grad_denominator, grad_denominator_remainder, COMPUTE)
        inv_denominator = 1.0 / denominator  # once per program
        tl.store(grad_ptr + offs, (grad * inv_denominator).to(grad_ptr.dtype.element_ty), mask=mask)


@triton.jit
def sigmoid_focal_index_fwd_kernel(
    x_ptr,
    t_ptr,  # class indices, one per row; C or any value outside [0, C) = background
    loss_ptr,  # out: loss per element, laid out as the gradient (REDUCE False)
    partial_ptr,  # out: one partial sum per program (REDUCE True)
    grad_ptr,  # out: dL/dx (WRITE_GRAD)
    count_ptr,  # 0-d count of non-ignored rows ('mean': the gradient is divided by C times it)
    S,
    C,
    n_s_blocks,
    stride_xb,
    stride_xc,
    stride_xs,
    stride_gb,
    stride_gc,
    stride_gs,
    alpha,
    alpha_remainder,
    gamma,
    gamma_remainder,
    ignore_index: tl.int64,
    HAS_ALPHA: tl.constexpr,
    GAMMA: tl.constexpr,  # gamma at compile time: 0, 1, 2, or ANY_GAMMA (see stable_math.focal_power)
    REDUCE: tl.constexpr,
    WRITE_GRAD: tl.constexpr,
    MEAN: tl.constexpr,
    COMPUTE: tl.constexpr,
    WIDE_CLASS_OFFSETS: tl.constexpr,  # class * stride_c can pass 2**31: 64-bit class offsets
    BLOCK_S: tl.constexpr,
    BLOCK_C: tl.constexpr,
):
    """Binary focal loss of every (row, class) against the implicit one-hot of the row's index."""
    pid = tl.program_id(0)
    alpha = float64_scalar(alpha, alpha_remainder, COMPUTE)
    gamma = float64_scalar(gamma, gamma_remainder, COMPUTE)
    b, s, row_mask = class_rows(pid, S, n_s_blocks, BLOCK_S)
    k = tl.load(t_ptr + b * S + s, mask=row_mask, other=0).to(tl.int64)
    valid = row_mask & (k != ignore_index)
    x_rows = x_ptr + b * stride_xb + s * stride_xs
    g_rows = grad_ptr + b * stride_gb + s * stride_gs
    scale = 1.0
    if MEAN:
        count = tl.load(count_ptr).to(COMPUTE) * C
        scale = 1.0 / tl.where(count > 0, count, 1.0)
    total = tl.zeros((BLOCK_S, BLOCK_C), COMPUTE)
    for c0 in range(0, C, BLOCK_C):
        cls = c0 + class_offsets(BLOCK_C, WIDE_CLASS_OFFSETS)
        tile_mask = row_mask[:, None] & (cls < C)[None, :]
        raw_x = tl.load(x_rows[:, None] + cls[None, :] * stride_xc, mask=tile_mask, other=0.0).to(COMPUTE)
        positive = cls[None, :] == k[:, None]
        loss, grad = hard_label_terms(clamp_infinities(raw_x), positive, gamma, GAMMA)
        if HAS_ALPHA:
            alpha_t = tl.where(positive, alpha, 1.0 - alpha)
            loss = alpha_t * loss
            grad = alpha_t * grad
        keep = valid[:, None] & tile_mask
        infinite = tl.where(positive, raw_x == -float("inf"), raw_x == float("inf")) & (loss > 0.0)
        loss = tl.where(keep, tl.where(infinite, float("inf"), loss), 0.0)
        if REDUCE:
            total += loss
        else:
            tl.store(loss_ptr + b * stride_gb + s[:, None] * stride_gs + cls[None, :] * stride_gc,
                     loss.to(loss_ptr.dtype.element_ty), mask=tile_mask)  # fmt: skip
        if WRITE_GRAD:
            grad = tl.where(keep, grad * scale, 0.0)
            tl.store(g_rows[:, None] + cls[None, :] * stride_gc, grad.to(grad_ptr.dtype.element_ty), mask=tile_mask)
    if REDUCE:
        tl.store(partial_ptr + pid, tl.sum(tl.sum(total, axis=1), axis=0))


def sigmoid_focal_bytes_per_element(logit_bytes, target_bytes, reduce, write_grad, grad_bytes=None):
    """Bytes an ideal kernel moves per element: read x and t, write the loss ('none')
    and the gradient (when it is needed, ``grad_bytes`` each, default the logits'
    size); the per-chunk partials are negligible."""
    grad_bytes = logit_bytes if grad_bytes is None else grad_bytes
    return logit_bytes + target_bytes + (0 if reduce else logit_bytes) + (grad_bytes if write_grad else 0)


def sigmoid_focal_index_bytes_per_element(logit_bytes, reduce):
    """Ideal bytes per logit of the class-index sigmoid kernel with the gradient:
    read x, write the gradient (and the loss for 'none'); targets are per row."""
    return logit_bytes * (2 if reduce else 3)
