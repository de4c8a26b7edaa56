"""Multiclass (softmax) focal loss over (N, C, *) logits (the walk of ``class_walk``):
loss and dL/dx in one pass.

Softmax math per row (k = target class, lse = logsumexp(x), u = x_k - lse = log p_k <= 0):

    1 - p_k = -expm1(u)                     (no cancellation as p_k -> 1)
    w       = (1 - p_k) ** gamma
    loss    = -alpha_k * w * u
    g'      = alpha_k * w * (1 + gamma * p_k * u / expm1(u))
    dL/dx_j = g' * (p_j - [j == k])

from dL/du = -alpha_k * w * (1 + gamma * p_k * u / expm1(u)) and du/dx_j = [j == k] - p_j.
u / expm1(u) lies in (0, 1] and is taken as 1 at u = 0, so g' is finite for
every gamma >= 0 as p_k -> 1 and as p_k -> 0.  A row whose classes fit one
tile (SINGLE_TILE) is read once; otherwise an online max / sum of exp over the
class tiles (pass 1) is followed by a pass that writes p_j (two reads).
"""

import triton
import triton.language as tl

from .class_walk import class_offsets, class_rows, class_strides
from .stable_math import clamp_positive_infinity, expm1, float64_scalar, focal_power

ALPHA_NONE = tl.constexpr(0)
ALPHA_SCALAR = tl.constexpr(1)
ALPHA_PER_CLASS = tl.constexpr(2)


@triton.jit
def softmax_focal_row_terms(u, alpha_k, gamma, GAMMA: tl.constexpr):
    """(loss, g') of one row from u = log p_k (see the module docstring)."""
    em1 = expm1(u)  # p_k - 1
    w = focal_power(-em1, gamma, GAMMA)
    exact = em1 == 0.0
    u_over_em1 = tl.where(exact, 1.0, u / tl.where(exact, 1.0, em1))
    loss = -alpha_k * w * u
    p_k = tl.exp(u)
    # p_k * u / expm1(u) -> 0 as u -> -inf (a target logit of -inf): no 0 * inf
    gprime = alpha_k * w * (1.0 + gamma * tl.where(p_k == 0.0, 0.0, p_k * u_over_em1))
    return loss, gprime


@triton.jit
def _class_alpha(k_safe, alpha, alpha_ptr, ALPHA_MODE: tl.constexpr, COMPUTE: tl.constexpr):
    """alpha_k of each row: alpha[k] (per class), alpha (one factor) or 1 (no alpha)."""
    if ALPHA_MODE == ALPHA_PER_CLASS:
        return tl.load(alpha_ptr + k_safe).to(COMPUTE)
    elif ALPHA_MODE == ALPHA_SCALAR:
        return alpha + tl.zeros(k_safe.shape, COMPUTE)
    else:
        return tl.full(k_safe.shape, 1.0, COMPUTE)


@triton.jit
def _rows_loss(pid, b, s, S, row_mask, valid, in_range, k_safe, x_k, row_max, sum_exp, alpha, alpha_ptr, gamma,
               loss_ptr, partial_ptr, count_ptr, ALPHA_MODE: tl.constexpr, GAMMA: tl.constexpr,
               REDUCE: tl.constexpr, MEAN: tl.constexpr, COMPUTE: tl.constexpr):  # fmt: skip
    """Stores the loss of each row (or the program's partial sum) from its target logit, max and
    sum of exp; returns g' of each row (divided by the non-ignored count for MEAN)."""
    # u = (x_k - max) - log(sum): x_k - max is exact, so a confident row keeps its tiny loss
    # (x_k - (max + log sum) would round max + log sum back to max)
    u = tl.where(valid, (x_k - row_max) - tl.log(tl.where(row_mask, sum_exp, 1.0)), 0.0)
    u = tl.where(u < -1.0e38, -float("inf"), u)  # only from a clamped +inf elsewhere in the row: p_k = 0
    alpha_k = _class_alpha(k_safe, alpha, alpha_ptr, ALPHA_MODE, COMPUTE)
    loss, gprime = softmax_focal_row_terms(u, alpha_k, gamma, GAMMA)
    # ignored rows give 0; a target outside [0, C) that is not ignore_index gives NaN
    bad = tl.where(in_range, 0.0, float("nan"))
    loss = tl.where(valid, loss + bad, 0.0)
    gprime = tl.where(valid, gprime + bad, 0.0)
    if REDUCE:
        tl.store(partial_ptr + pid, tl.sum(loss, axis=0))
    else:
        tl.store(loss_ptr + b * S + s, loss.to(loss_ptr.dtype.element_ty), mask=row_mask)
    if MEAN:
        count = tl.load(count_ptr).to(COMPUTE)
        gprime = gprime / tl.where(count > 0, count, 1.0)
    return gprime


@triton.jit
def softmax_focal_fwd_kernel(
    x_ptr,
    t_ptr,  # class indices, one per row (b * S + s), int64 / int32 / uint8
    alpha_ptr,  # per-class alpha, C values (ALPHA_MODE == ALPHA_PER_CLASS)
    loss_ptr,  # out: loss per row (REDUCE False)
    partial_ptr,  # out: one partial sum per program (REDUCE True)
    grad_ptr,  # out: dL/dx with the grad strides (WRITE_GRAD)
    count_ptr,  # 0-d count of non-ignored rows ('mean': the gradient is divided by it)
    S,
    C,
    n_s_blocks,
    stride_xb,
    stride_xc,
    stride_xs,
    stride_gb,
    stride_gc,
    stride_gs,
    alpha,  # each float scalar comes with its float64 remainder (see stable_math.float64_scalar)
    alpha_remainder,
    gamma,
    gamma_remainder,
    ignore_index: tl.int64,
    ALPHA_MODE: tl.constexpr,
    GAMMA: tl.constexpr,  # gamma at compile time: 0, 1, 2, or ANY_GAMMA (see stable_math.focal_power)
    REDUCE: tl.constexpr,
    WRITE_GRAD: tl.constexpr,
    MEAN: tl.constexpr,
    SINGLE_TILE: tl.constexpr,
    COMPUTE: tl.constexpr,
    WIDE_CLASS_OFFSETS: tl.constexpr,  # class * stride_c can pass 2**31: 64-bit class offsets
    BLOCK_S: tl.constexpr,
    BLOCK_C: tl.constexpr,
):
    pid = tl.program_id(0)
    alpha = float64_scalar(alpha, alpha_remainder, COMPUTE)
    gamma = float64_scalar(gamma, gamma_remainder, COMPUTE)
    b, s, row_mask = class_rows(pid, S, n_s_blocks, BLOCK_S)
    k = tl.load(t_ptr + b * S + s, mask=row_mask, other=0).to(tl.int64)
    valid = row_mask & (k != ignore_index)
    in_range = (k >= 0) & (k < C)
    k_safe = tl.where(valid & in_range, k, 0)  # never read out of bounds
    x_rows = x_ptr + b * stride_xb + s * stride_xs
    classes = class_offsets(BLOCK_C, WIDE_CLASS_OFFSETS)
    if SINGLE_TILE:
        tile_mask = row_mask[:, None] & (classes < C)[None, :]
        x = tl.load(x_rows[:, None] + classes[None, :] * stride_xc, mask=tile_mask, other=-float("inf"))
        x = clamp_positive_infinity(x.to(COMPUTE))
        row_max = tl.where(row_mask, tl.max(x, axis=1), 0.0)
        ex = tl.exp(x - row_max[:, None])
        sum_exp = tl.sum(ex, axis=1)
        x_k = tl.sum(tl.where(classes[None, :] == k_safe[:, None], x, 0.0), axis=1)
    else:
        row_max = tl.full((BLOCK_S,), -float("inf"), COMPUTE)
        sum_exp = tl.zeros((BLOCK_S,), COMPUTE)
        for c0 in range(0, C, BLOCK_C):
            cls = c0 + classes
            tile_mask = row_mask[:, None] & (cls < C)[None, :]
            x = tl.load(x_rows[:, None] + cls[None, :] * stride_xc, mask=tile_mask, other=-float("inf"))
            x = clamp_positive_infinity(x.to(COMPUTE))
            new_max = tl.where(row_mask, tl.maximum(row_max, tl.max(x, axis=1)), 0.0)
            # sum_exp is relative to the max so far; while every class seen is -inf (masked)
            # there is none, and 0 stands in: exp(-inf - 0) = 0, not exp(-inf - -inf) = NaN
            shift = tl.where(new_max == -float("inf"), 0.0, new_max)
            sum_exp = sum_exp * tl.exp(row_max - shift) + tl.sum(tl.exp(x - shift[:, None]), axis=1)
            row_max = new_max
        x_k = clamp_positive_infinity(tl.load(x_rows + k_safe * stride_xc, mask=valid, other=0.0).to(COMPUTE))
    gprime = _rows_loss(pid, b, s, S, row_mask, valid, in_range, k_safe, x_k, row_max, sum_exp, alpha, alpha_ptr,
                        gamma, loss_ptr, partial_ptr, count_ptr, ALPHA_MODE, GAMMA, REDUCE, MEAN, COMPUTE)  # fmt: skip
    if WRITE_GRAD:
        g_rows = grad_ptr + b * stride_gb + s * stride_gs
        inv_sum = 1.0 / tl.where(row_mask, sum_exp, 1.0)
        if SINGLE_TILE:
            p = ex * inv_sum[:, None]
            onehot = classes[None, :] == k_safe[:, None]
            g = gprime[:, None] * (p - tl.where(onehot, 1.0, 0.0))
            tl.store(g_rows[:, None] + classes[None, :] * stride_gc, g.to(grad_ptr.dtype.element_ty), mask=tile_mask)
        else:
            for c0 in range(0, C, BLOCK_C):
                cls = c0 + classes
                tile_mask = row_mask[:, None] & (cls < C)[None, :]
                x = tl.load(x_rows[:, None] + cls[None, :] * stride_xc, mask=tile_mask, other=0.0).to(COMPUTE)
                p = tl.exp(clamp_positive_infinity(x) - row_max[:, None]) * inv_sum[:, None]
                onehot = cls[None, :] == k_safe[:, None]
                g = gprime[:, None] * (p - tl.where(onehot, 1.0, 0.0))
                tl.store(g_rows[:, None] + cls[None, :] * stride_gc, g.to(grad_ptr.dtype.element_ty), mask=tile_mask)


def softmax_focal_bytes_per_element(logit_bytes, single_tile, write_grad=True):
    """Ideal bytes per logit of the softmax kernel: one read, and with the gradient one
    write (plus a second read when the row is too long for one tile); targets are per row."""
    if not write_grad:
        return logit_bytes
    return logit_bytes * (2 if single_tile else 3)


@triton.jit
def softmax_focal_small_c_kernel(
    x_ptr,
    t_ptr,  # class indices, one per row (b * S + s), int64 / int32 / uint8
    alpha_ptr,  # per-class alpha, C values (ALPHA_MODE == ALPHA_PER_CLASS)
    loss_ptr,  # out: loss per row (REDUCE False)
    partial_ptr,  # out: one partial sum per program (REDUCE True)
    grad_ptr,  # out: dL/dx with the grad strides (WRITE_GRAD)
    count_ptr,  # 0-d count of non-ignored rows ('mean': the gradient is divided by it)
    S,
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
    C: tl.constexpr,  # the class count, compiled in: the class loop unrolls, no padding
    ALPHA_MODE: tl.constexpr,
    GAMMA: tl.constexpr,
    REDUCE: tl.constexpr,
    WRITE_GRAD: tl.constexpr,
    MEAN: tl.constexpr,
    COMPUTE: tl.constexpr,
    WIDE_CLASS_OFFSETS: tl.constexpr,
    BLOCK_S: tl.constexpr,
):
    """The softmax focal loss for a few classes strided in memory (NCHW maps, C <= SMALL_C_MAX):
    rows are the program's vector lanes and the classes an unrolled loop, so every load and
    store is a coalesced vector along S, the row max / sum / target logit stay in registers of
    the thread holding the row, and the per-row math (log, expm1, pow) runs once per row.  The
    class loop reads the tile three times (max, sum of exp, gradient); the second and third
    reads hit the cache."""
    pid = tl.program_id(0)
    alpha = float64_scalar(alpha, alpha_remainder, COMPUTE)
    gamma = float64_scalar(gamma, gamma_remainder, COMPUTE)
    b, s, row_mask = class_rows(pid, S, n_s_blocks, BLOCK_S)
    k = tl.load(t_ptr + b * S + s, mask=row_mask, other=0).to(tl.int64)
    valid = row_mask & (k != ignore_index)
    in_range = (k >= 0) & (k < C)
    k_safe = tl.where(valid & in_range, k, 0)
    x_rows = x_ptr + b * stride_xb + s * stride_xs
    class_stride_x, class_stride_g = class_strides(stride_xc, stride_gc, WIDE_CLASS_OFFSETS)
    row_max = tl.full((BLOCK_S,), -float("inf"), COMPUTE)
    for c in tl.static_range(C):
        x = tl.load(x_rows + c * class_stride_x, mask=row_mask, other=-float("inf"))
        row_max = tl.maximum(row_max, clamp_positive_infinity(x.to(COMPUTE)))
    # while every class of a row is -inf there is no max: 0 stands in, exp(-inf - 0) = 0
    shift = tl.where(row_max == -float("inf"), 0.0, row_max)
    sum_exp = tl.zeros((BLOCK_S,), COMPUTE)
    x_k = tl.zeros((BLOCK_S,), COMPUTE)
    for c in tl.static_range(C):
        x = clamp_positive_infinity(tl.load(x_rows + c * class_stride_x, mask=row_mask, other=-float("inf")).to(COMPUTE))
        sum_exp += tl.exp(x - shift)
        x_k = tl.where(k_safe == c, x, x_k)
    gprime = _rows_loss(pid, b, s, S, row_mask, valid, in_range, k_safe, x_k, shift, sum_exp, alpha, alpha_ptr,
                        gamma, loss_ptr, partial_ptr, count_ptr, ALPHA_MODE, GAMMA, REDUCE, MEAN, COMPUTE)  # fmt: skip
    if WRITE_GRAD:
        g_rows = grad_ptr + b * stride_gb + s * stride_gs
        inv_sum = 1.0 / tl.where(row_mask, sum_exp, 1.0)
        for c in tl.static_range(C):
            x = tl.load(x_rows + c * class_stride_x, mask=row_mask, other=0.0).to(COMPUTE)
            p = tl.exp(clamp_positive_infinity(x) - shift) * inv_sum
            g = gprime * (p - tl.where(k_safe == c, 1.0, 0.0))
            tl.store(g_rows + c * class_stride_g, g.to(grad_ptr.dtype.element_ty), mask=row_mask)
