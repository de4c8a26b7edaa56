"""Multiclass (softmax) focal loss over (N, C, *) logits (the walk of ``class_walk``):
loss and dL/dx in one pass.

Softmax math per row (k = target class, lse = logsumexp(x), u = x_k - lse = log p_k <= 0):

    1 - p_k = -expm1(u)                     (no cancellation as p_k -> 1)
    w       = (1 - p_k) ** gamma
    loss    = -alpha_k * w * u
    g'      = alpha_k * w * (1 + gamma * p_k * u / expm1(u))
    dL/dx_j = g' * (p_j - [j == k])

from dL/du = -alpha_k * w * (1 + gamma * p_k * u / expm1(u)) and du/dx_j = [j == k] - p_j.
u / expm1(u) lies in (0, 1] (float32 forms it as -u / max(1 - p_k, 2 ** -126); at u = 0,
1 - p_k = 0, w is 0 for every gamma > 0 and the ratio's value does not matter; float64 takes
its limit 1), so g' is finite for every gamma >= 0 as p_k -> 1 and as p_k -> 0.  A row whose classes fit one
tile (SINGLE_TILE) is read once; otherwise an online max / sum of exp over the
class tiles (pass 1) is followed by a pass that writes p_j (two reads).

Soft targets (``softmax_focal_soft_kernel``: dense target probabilities q, or label
smoothing q = (1 - eps) onehot(k) + eps / C), with u_j = log p_j and g'_j as above for
each class j:

    loss    = sum_j q_j * L_j,   L_j = -alpha_j * (1 - p_j) ** gamma * u_j
    dL/dx_i = sum_j q_j * dL_j/du_j * du_j/dx_i = sum_j q_j * (-g'_j) * ([i == j] - p_i)
            = p_i * G - q_i * g'_i,   G = sum_j q_j * g'_j

so each row needs G before any gradient is written: rows that fit one tile, or up to
UNROLLED_CLASS_TILES narrow ones (C compiled in), keep them in registers; longer rows are read
three times (max and sum, then loss and G, then dL/dx).  In registers, p_j = e_j / sum and
1 - p_j = (sum - e_j) / sum with e_j = exp(x_j - max): sum - e_j >= 1 but at the row's max, where
it is sum - 1, as exact as the row's log of its sum.
Every g'_j is finite (above), so the gradient is finite for every gamma >= 0; a class
with q_j = 0 adds nothing to the loss even where L_j is infinite (a -inf logit).  With
gamma = 0 and no alpha, g'_j = 1 and dL/dx_i = p_i * sum(q) - q_i: F.cross_entropy's.
"""

import triton
import triton.language as tl

from .class_walk import (
    TARGETS_DENSE,
    TARGETS_DISTANCE,
    TARGETS_INDEX,
    UNROLLED_CLASS_TILES,
    UNROLLED_TILE_WIDTH,
    class_offsets,
    class_rows,
    class_strides,
    row_starts,
)
from .operands import OPERAND_NONE, OPERAND_SCALAR, OPERAND_TENSOR, operand_mode
from .reduce import gradient_scale
from .sigmoid_focal import hard_label_terms
from .stable_math import (
    BIG,
    CLAMPED_LOG_P,
    FLOAT32_TINY,
    LOG2E,
    clamp_positive_infinity,
    exp2_approx,
    expm1,
    float64_scalar,
    focal_power,
    log_of_sum,
    maximum_as_stored,
    reciprocal_approx,
)

# ALPHA_MODE: no alpha, one alpha for every class, or C per-class values at alpha_ptr
ALPHA_NONE, ALPHA_SCALAR, ALPHA_PER_CLASS = OPERAND_NONE, OPERAND_SCALAR, OPERAND_TENSOR


@triton.jit
def softmax_focal_terms(u, p, one_minus_p, alpha_k, gamma, GAMMA: tl.constexpr):
    """(loss, g') of a class from u = log p, p and 1 - p (see the module docstring)."""
    if GAMMA == 0:  # cross-entropy: no focal term
        return -alpha_k * u, alpha_k
    w = focal_power(one_minus_p, gamma, GAMMA)
    loss = -alpha_k * w * u
    # p u / expm1(u) = p (-u) / (1 - p) in [0, 1], -> 0 as u -> -inf (p = 0: no 0 * inf)
    if one_minus_p.dtype == tl.float64:
        near_one = one_minus_p == 0.0  # the ratio's limit, 1
        ratio = tl.where(near_one, 1.0, -u / tl.where(near_one, 1.0, one_minus_p))
        return loss, alpha_k * w * (1.0 + gamma * tl.where(p == 0.0, 0.0, p * ratio))
    # float32: 1 - p is at least 2 ** -126 in the reciprocal and -u at most 3e38, so the ratio
    # stays finite; below 2 ** -126, 1 - p = 0 in practice (1 - p is 0 or >= 2 ** -24 at a
    # row's max) and w = 0 there for every gamma > 0, whatever the ratio
    ratio = tl.minimum(-u, BIG) * reciprocal_approx(tl.maximum(one_minus_p, FLOAT32_TINY))
    return loss, alpha_k * w * (1.0 + gamma * (p * ratio))


@triton.jit
def probability_and_complement(u):
    """(p, 1 - p) from u = log p alone: exp(u) and -expm1(u), without cancellation as p -> 1."""
    return exp2_approx(u * LOG2E), -expm1(u)


@triton.jit
def softmax_focal_row_terms(u, alpha_k, gamma, GAMMA: tl.constexpr):
    """(loss, g') from u = log p alone (gamma 0 forms neither p nor 1 - p)."""
    p, one_minus_p = probability_and_complement(u)
    return softmax_focal_terms(u, p, one_minus_p, alpha_k, gamma, GAMMA)


@triton.jit
def _row_classes(t_ptr, b, s, S, row_mask, ignore_index, C):
    """(counted, in range, class) of each row's class index (b * S + s): ignore_index is not
    counted; an index outside [0, C) is counted (the launchers make its loss NaN) and read as
    class 0, so no logit is read out of bounds."""
    k = tl.load(t_ptr + b * S + s, mask=row_mask, other=0).to(tl.int64)
    valid = row_mask & (k != ignore_index)
    in_range = (k >= 0) & (k < C)
    return valid, in_range, tl.where(valid & in_range, k, 0)


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
def _row_weight(b, s, row_mask, weight_ptr, stride_wb, stride_ws, COMPUTE: tl.constexpr):
    """Each row's weight (weight= broadcast to the (N, *) loss, (b, s) strides), or 1 without one."""
    if weight_ptr is not None:
        return tl.load(weight_ptr + b * stride_wb + s * stride_ws, mask=row_mask, other=0.0).to(COMPUTE)
    else:
        return 1.0


@triton.jit
def _store_rows_loss(pid, b, s, S, row_mask, counted, loss, row_weight, loss_ptr, partial_ptr, REDUCE: tl.constexpr):
    """Stores the loss of each row times its weight, 0 for the rows not ``counted`` (or the
    program's partial sum)."""
    loss = tl.where(counted, loss * row_weight, 0.0)
    if REDUCE:
        tl.store(partial_ptr + pid, tl.sum(loss, axis=0))
    else:
        tl.store(loss_ptr + b * S + s, loss.to(loss_ptr.dtype.element_ty), mask=row_mask)


@triton.jit
def _rows_loss(
    pid,
    b,
    s,
    S,
    row_mask,
    valid,
    in_range,
    k_safe,
    x_k,
    row_max,
    sum_exp,
    alpha,
    alpha_ptr,
    gamma,
    row_weight,
    grad_scale,
    loss_ptr,
    partial_ptr,
    ALPHA_MODE: tl.constexpr,
    GAMMA: tl.constexpr,
    REDUCE: tl.constexpr,
    COMPUTE: tl.constexpr,
):
    """Stores the loss of each row (times its weight; or the program's partial sum) from its target
    logit, max and sum of exp; returns g' of each row times its weight and ``grad_scale``."""
    # u = (x_k - max) - log(sum): x_k - max is exact, so a confident row keeps its tiny loss
    # (x_k - (max + log sum) would round max + log sum back to max)
    u = tl.where(valid, (x_k - row_max) - log_of_sum(tl.where(row_mask, sum_exp, 1.0)), 0.0)
    u = tl.where(u < CLAMPED_LOG_P, -float("inf"), u)  # only from a clamped +inf elsewhere in the row: p_k = 0
    alpha_k = _class_alpha(k_safe, alpha, alpha_ptr, ALPHA_MODE, COMPUTE)
    loss, gprime = softmax_focal_row_terms(u, alpha_k, gamma, GAMMA)
    # ignored rows give 0; a target outside [0, C) that is not ignore_index gives NaN
    bad = tl.where(in_range, 0.0, float("nan"))
    _store_rows_loss(pid, b, s, S, row_mask, valid, loss + bad, row_weight, loss_ptr, partial_ptr, REDUCE)
    gprime = tl.where(valid, (gprime + bad) * row_weight, 0.0)
    return gprime * grad_scale


@triton.jit
def online_max_sum(
    x_rows, row_mask, C, stride_xc, classes, BLOCK_S: tl.constexpr, BLOCK_C: tl.constexpr, COMPUTE: tl.constexpr
):
    """(max, sum of exp(x - max)) of each row over its class tiles, in one pass (rows longer than a tile)."""
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
    return row_max, sum_exp


@triton.jit
def unrolled_max_sum(
    x_rows,
    row_mask,
    C: tl.constexpr,
    stride_xc,
    classes,
    BLOCK_S: tl.constexpr,
    BLOCK_C: tl.constexpr,
    COMPUTE: tl.constexpr,
):
    """(max, sum of exp(x - max)) of each row over its unrolled class tiles, as ``online_max_sum``
    gives them: each lane keeps its own max across the tiles (one reduction a row, no rescaling),
    then a second pass adds exp (the tiles' second read hits the cache)."""
    lane_max = tl.full((BLOCK_S, BLOCK_C), -float("inf"), COMPUTE)
    for c0 in tl.static_range(0, C, BLOCK_C):
        cls = c0 + classes
        tile_mask = row_mask[:, None] & (cls < C)[None, :]
        x = tl.load(x_rows[:, None] + cls[None, :] * stride_xc, mask=tile_mask, other=-float("inf"))
        lane_max = tl.maximum(lane_max, x.to(COMPUTE))
    row_max = tl.where(row_mask, clamp_positive_infinity(tl.max(lane_max, axis=1)), 0.0)
    # while every class of a row is -inf there is no max: 0 stands in (as online_max_sum)
    shift = tl.where(row_max == -float("inf"), 0.0, row_max)
    lane_sum = tl.zeros((BLOCK_S, BLOCK_C), COMPUTE)
    for c0 in tl.static_range(0, C, BLOCK_C):
        cls = c0 + classes
        tile_mask = row_mask[:, None] & (cls < C)[None, :]
        x = tl.load(x_rows[:, None] + cls[None, :] * stride_xc, mask=tile_mask, other=-float("inf"))
        lane_sum += exp2_approx((clamp_positive_infinity(x.to(COMPUTE)) - shift[:, None]) * LOG2E)
    return row_max, tl.sum(lane_sum, axis=1)


@triton.jit
def _gradient_tile(
    c0,
    x_rows,
    g_rows,
    row_mask,
    k_safe,
    row_max,
    inv_sum,
    gprime,
    C,
    stride_xc,
    stride_gc,
    classes,
    COMPUTE: tl.constexpr,
):
    """Writes g' (p_j - [j == k]) of one class tile from c0 (a row longer than one tile)."""
    cls = c0 + classes
    tile_mask = row_mask[:, None] & (cls < C)[None, :]
    x = tl.load(x_rows[:, None] + cls[None, :] * stride_xc, mask=tile_mask, other=0.0).to(COMPUTE)
    p = exp2_approx((clamp_positive_infinity(x) - row_max[:, None]) * LOG2E) * inv_sum[:, None]
    onehot = cls[None, :] == k_safe.to(cls.dtype)[:, None]
    g = gprime[:, None] * (p - tl.where(onehot, 1.0, 0.0))
    tl.store(g_rows[:, None] + cls[None, :] * stride_gc, g.to(g_rows.dtype.element_ty), mask=tile_mask)


@triton.jit
def softmax_focal_fwd_kernel(
    x_ptr,
    t_ptr,  # class indices, one per row (b * S + s), int64 / int32 / uint8
    alpha_ptr,  # per-class alpha, C values (ALPHA_MODE == ALPHA_PER_CLASS)
    loss_ptr,  # out: loss per row (REDUCE False)
    partial_ptr,  # out: one partial sum per program (REDUCE True)
    grad_ptr,  # out: dL/dx with the grad strides (WRITE_GRAD)
    denominator_ptr,  # DENOMINATOR COUNT / TENSOR: the 0-d device tensor (see reduce.load_denominator)
    weight_ptr,  # weight broadcast to the (N, *) loss, (b, s) strides; None: no weight
    S,
    C: tl.constexpr,  # compiled in: rows of up to UNROLLED_CLASS_TILES class tiles unroll them
    n_s_blocks,
    stride_xb,
    stride_xc,
    stride_xs,
    stride_gb,
    stride_gc,
    stride_gs,
    stride_wb,
    stride_ws,
    alpha,  # each float scalar comes with its float64 remainder (see stable_math.float64_scalar)
    alpha_remainder,
    gamma,
    gamma_remainder,
    denominator,
    denominator_remainder,
    ignore_index: tl.int64,
    GAMMA: tl.constexpr,  # gamma at compile time: 0, 1, 2, or ANY_GAMMA (see stable_math.focal_power)
    REDUCE: tl.constexpr,
    WRITE_GRAD: tl.constexpr,
    DENOMINATOR: tl.constexpr,  # reduce.DENOMINATOR_*
    SINGLE_TILE: tl.constexpr,
    COMPUTE: tl.constexpr,
    WIDE_CLASS_OFFSETS: tl.constexpr,  # class * stride_c can pass 2**31: 64-bit class offsets
    ROWS_OF_C: tl.constexpr,  # rows of C contiguous classes: row offsets s * C (class_walk.row_starts)
    BLOCK_S: tl.constexpr,
    BLOCK_C: tl.constexpr,
):
    # a factor's mode follows from what the launcher passed (None: absent)
    ALPHA_MODE: tl.constexpr = operand_mode(alpha_ptr is not None, alpha is not None)
    pid = tl.program_id(0)
    # a row longer than one tile: its narrow tiles unrolled (up to UNROLLED_CLASS_TILES) or looped (online)
    UNROLLED: tl.constexpr = not SINGLE_TILE and BLOCK_C <= UNROLLED_TILE_WIDTH and C <= UNROLLED_CLASS_TILES * BLOCK_C
    alpha = float64_scalar(alpha, alpha_remainder, COMPUTE)
    gamma = float64_scalar(gamma, gamma_remainder, COMPUTE)
    b, s, row_mask = class_rows(pid, S, n_s_blocks, BLOCK_S)
    valid, in_range, k_safe = _row_classes(t_ptr, b, s, S, row_mask, ignore_index, C)
    x_rows, g_rows = row_starts(x_ptr, grad_ptr, b, s, stride_xb, stride_xs, stride_gb, stride_gs, C, ROWS_OF_C)
    classes = class_offsets(BLOCK_C, WIDE_CLASS_OFFSETS)
    if SINGLE_TILE:
        tile_mask = row_mask[:, None] & (classes < C)[None, :]
        x = tl.load(x_rows[:, None] + classes[None, :] * stride_xc, mask=tile_mask, other=-float("inf"))
        x = clamp_positive_infinity(x.to(COMPUTE))
        row_max = tl.where(row_mask, tl.max(x, axis=1), 0.0)
        ex = exp2_approx((x - row_max[:, None]) * LOG2E)  # x - max first: exp(0) is exactly 1
        sum_exp = tl.sum(ex, axis=1)
    elif UNROLLED:
        row_max, sum_exp = unrolled_max_sum(x_rows, row_mask, C, stride_xc, classes, BLOCK_S, BLOCK_C, COMPUTE)
    else:
        row_max, sum_exp = online_max_sum(x_rows, row_mask, C, stride_xc, classes, BLOCK_S, BLOCK_C, COMPUTE)
    # the target logit read once a row (a cache hit), not selected out of the tile
    x_k = clamp_positive_infinity(tl.load(x_rows + k_safe * stride_xc, mask=valid, other=0.0).to(COMPUTE))
    gprime = _rows_loss(
        pid,
        b,
        s,
        S,
        row_mask,
        valid,
        in_range,
        k_safe,
        x_k,
        row_max,
        sum_exp,
        alpha,
        alpha_ptr,
        gamma,
        _row_weight(b, s, row_mask, weight_ptr, stride_wb, stride_ws, COMPUTE),
        gradient_scale(denominator_ptr, denominator, denominator_remainder, DENOMINATOR, COMPUTE),
        loss_ptr,
        partial_ptr,
        ALPHA_MODE,
        GAMMA,
        REDUCE,
        COMPUTE,
    )
    if WRITE_GRAD:
        inv_sum = 1.0 / tl.where(row_mask, sum_exp, 1.0)
        if SINGLE_TILE:
            # g' (p_j - [j == k]), p_j - [j == k] one FFMA (not folded further: a g' of inf, a
            # normalizer of 0, must give inf * (p - 1) = -inf at the target, as eager PyTorch)
            onehot = classes[None, :] == k_safe.to(classes.dtype)[:, None]
            g = gprime[:, None] * (ex * inv_sum[:, None] - tl.where(onehot, 1.0, 0.0))
            tl.store(g_rows[:, None] + classes[None, :] * stride_gc, g.to(grad_ptr.dtype.element_ty), mask=tile_mask)
        elif UNROLLED:
            for c0 in tl.static_range(0, C, BLOCK_C):
                _gradient_tile(
                    c0,
                    x_rows,
                    g_rows,
                    row_mask,
                    k_safe,
                    row_max,
                    inv_sum,
                    gprime,
                    C,
                    stride_xc,
                    stride_gc,
                    classes,
                    COMPUTE,
                )
        else:
            for c0 in range(0, C, BLOCK_C):
                _gradient_tile(
                    c0,
                    x_rows,
                    g_rows,
                    row_mask,
                    k_safe,
                    row_max,
                    inv_sum,
                    gprime,
                    C,
                    stride_xc,
                    stride_gc,
                    classes,
                    COMPUTE,
                )


def softmax_focal_bytes_per_element(logit_bytes, single_tile, write_grad=True, target_bytes=0.0):
    """Bytes per logit of the softmax kernel: one read, and with the gradient one write (plus a
    second read when the row is too long for one tile: ``single_tile`` False), and the row's
    target spread over its classes (``target_bytes``: 8 / C for an int64 index)."""
    reads = 1 if single_tile or not write_grad else 2
    return logit_bytes * (reads + (1 if write_grad else 0)) + target_bytes


@triton.jit
def softmax_focal_small_c_kernel(
    x_ptr,
    t_ptr,  # TARGETS_INDEX: class indices (int64 / int32 / uint8), TARGETS_DISTANCE: distances; one per row (b * S + s)
    alpha_ptr,  # per-class alpha, C values (ALPHA_MODE == ALPHA_PER_CLASS)
    loss_ptr,  # out: loss per row (REDUCE False)
    partial_ptr,  # out: one partial sum per program (REDUCE True)
    grad_ptr,  # out: dL/dx with the grad strides (WRITE_GRAD)
    denominator_ptr,  # DENOMINATOR COUNT / TENSOR: the 0-d device tensor (see reduce.load_denominator)
    weight_ptr,  # weight broadcast to the (N, *) loss, (b, s) strides; None: no weight
    S,
    n_s_blocks,
    stride_xb,
    stride_xc,
    stride_xs,
    stride_gb,
    stride_gc,
    stride_gs,
    stride_wb,
    stride_ws,
    alpha,
    alpha_remainder,
    gamma,
    gamma_remainder,
    denominator,
    denominator_remainder,
    ignore_index: tl.int64,
    C: tl.constexpr,  # the class count, compiled in: the class loop unrolls, no padding
    GAMMA: tl.constexpr,
    TARGETS: tl.constexpr,  # TARGETS_INDEX (the softmax focal loss) or TARGETS_DISTANCE (DFL, gamma 0, no alpha)
    REDUCE: tl.constexpr,
    WRITE_GRAD: tl.constexpr,
    DENOMINATOR: tl.constexpr,  # reduce.DENOMINATOR_*
    COMPUTE: tl.constexpr,
    WIDE_CLASS_OFFSETS: tl.constexpr,
    ROWS_OF_C: tl.constexpr,  # rows of C contiguous classes: row offsets s * C (class_walk.row_starts)
    BLOCK_S: tl.constexpr,
):
    """The softmax focal loss, or the distribution focal loss, over rows of a few classes
    (C <= SMALL_C_MAX): rows are the program's vector lanes and the classes an unrolled loop, so
    a row lives in the registers of the thread holding it: each logit is read once, exp(x_j - max)
    formed once and kept for the gradient, and the per-row math (log, expm1, pow) runs once per
    row.  Classes strided in memory (NCHW maps) load and store as coalesced vectors along S;
    classes contiguous ((N, 17) DFL bins) as one strided scalar a class, whose neighbours the
    next classes' loads find in the cache.  exp is ``exp2_approx`` (one MUFU; a probability
    below 2 ** -126 flushes to 0, its gradient term p_j g' with it)."""
    # a factor's mode follows from what the launcher passed (None: absent)
    ALPHA_MODE: tl.constexpr = operand_mode(alpha_ptr is not None, alpha is not None)
    tl.static_assert((TARGETS == TARGETS_INDEX) | ((TARGETS == TARGETS_DISTANCE) & (GAMMA == 0)))
    pid = tl.program_id(0)
    b, s, row_mask = class_rows(pid, S, n_s_blocks, BLOCK_S)
    x_rows, g_rows = row_starts(x_ptr, grad_ptr, b, s, stride_xb, stride_xs, stride_gb, stride_gs, C, ROWS_OF_C)
    class_stride_x, class_stride_g = class_strides(stride_xc, stride_gc, WIDE_CLASS_OFFSETS)
    row_weight = _row_weight(b, s, row_mask, weight_ptr, stride_wb, stride_ws, COMPUTE)
    grad_scale = gradient_scale(denominator_ptr, denominator, denominator_remainder, DENOMINATOR, COMPUTE)
    alpha = float64_scalar(alpha, alpha_remainder, COMPUTE)
    gamma = float64_scalar(gamma, gamma_remainder, COMPUTE)
    if C == 2 and TARGETS == TARGETS_INDEX:
        _two_class_rows(
            pid,
            b,
            s,
            S,
            row_mask,
            t_ptr,
            x_rows,
            g_rows,
            class_stride_x,
            class_stride_g,
            ignore_index,
            alpha,
            alpha_ptr,
            gamma,
            row_weight,
            grad_scale,
            loss_ptr,
            partial_ptr,
            ALPHA_MODE,
            GAMMA,
            REDUCE,
            WRITE_GRAD,
            COMPUTE,
        )
    else:
        _few_class_rows(
            pid,
            b,
            s,
            S,
            row_mask,
            t_ptr,
            x_rows,
            g_rows,
            class_stride_x,
            class_stride_g,
            ignore_index,
            alpha,
            alpha_ptr,
            gamma,
            row_weight,
            grad_scale,
            loss_ptr,
            partial_ptr,
            C,
            ALPHA_MODE,
            GAMMA,
            TARGETS,
            REDUCE,
            WRITE_GRAD,
            COMPUTE,
            BLOCK_S,
        )


@triton.jit
def _two_class_rows(
    pid,
    b,
    s,
    S,
    row_mask,
    t_ptr,
    x_rows,
    g_rows,
    class_stride_x,
    class_stride_g,
    ignore_index,
    alpha,
    alpha_ptr,
    gamma,
    row_weight,
    grad_scale,
    loss_ptr,
    partial_ptr,
    ALPHA_MODE: tl.constexpr,
    GAMMA: tl.constexpr,
    REDUCE: tl.constexpr,
    WRITE_GRAD: tl.constexpr,
    COMPUTE: tl.constexpr,
):
    """Rows of two classes: the softmax of (x_k, x_o) is the sigmoid of the margin m = x_k - x_o,
    so the row's loss is the binary focal loss of m at a positive, alpha_k (1 - p_k) ** gamma
    softplus(-m) (sigmoid_focal.hard_label_terms), and dL/dx_k = -dL/dx_o = dL/dm: no max, no
    sum of exp, no log of it.  Logits of +inf are clamped to 3e38 first, as the softmax rows are."""
    valid, in_range, k_safe = _row_classes(t_ptr, b, s, S, row_mask, ignore_index, 2)
    x0 = clamp_positive_infinity(tl.load(x_rows, mask=row_mask, other=0.0).to(COMPUTE))
    x1 = clamp_positive_infinity(tl.load(x_rows + class_stride_x, mask=row_mask, other=0.0).to(COMPUTE))
    second = k_safe == 1
    margin = tl.where(second, x1 - x0, x0 - x1)
    margin = tl.where(margin < CLAMPED_LOG_P, -float("inf"), margin)  # only from a clamped +inf at x_o: p_k = 0
    alpha_k = _class_alpha(k_safe, alpha, alpha_ptr, ALPHA_MODE, COMPUTE)
    # loss = alpha_k w ce, slope = alpha_k w (1 - p_k + gamma p_k ce) = -dL/dm
    loss, slope = hard_label_terms(margin, True, alpha_k, alpha_k, gamma, 0.0, GAMMA, False, False, False)
    # ignored rows give 0; a target outside [0, 2) that is not ignore_index gives NaN
    bad = tl.where(in_range, 0.0, float("nan"))
    _store_rows_loss(pid, b, s, S, row_mask, valid, loss + bad, row_weight, loss_ptr, partial_ptr, REDUCE)
    if WRITE_GRAD:
        slope = tl.where(valid, (slope + bad) * row_weight, 0.0) * grad_scale
        g0 = tl.where(second, slope, -slope)  # dL/dx_0 = -dL/dm where k = 0, dL/dm where k = 1
        tl.store(g_rows, g0.to(g_rows.dtype.element_ty), mask=row_mask)
        tl.store(g_rows + class_stride_g, (-g0).to(g_rows.dtype.element_ty), mask=row_mask)


@triton.jit
def _few_class_rows(
    pid,
    b,
    s,
    S,
    row_mask,
    t_ptr,
    x_rows,
    g_rows,
    class_stride_x,
    class_stride_g,
    ignore_index,
    alpha,
    alpha_ptr,
    gamma,
    row_weight,
    grad_scale,
    loss_ptr,
    partial_ptr,
    C: tl.constexpr,
    ALPHA_MODE: tl.constexpr,
    GAMMA: tl.constexpr,
    TARGETS: tl.constexpr,
    REDUCE: tl.constexpr,
    WRITE_GRAD: tl.constexpr,
    COMPUTE: tl.constexpr,
    BLOCK_S: tl.constexpr,
):
    """Rows of C classes in the registers of one thread each (softmax_focal_small_c_kernel)."""
    # 1. the row into registers, its max in the logits' own dtype (exact in any precision)
    row_max = tl.full((BLOCK_S,), -float("inf"), x_rows.dtype.element_ty)
    xs = ()
    for c in tl.static_range(C):
        x = tl.load(x_rows + c * class_stride_x, mask=row_mask, other=-float("inf"))
        row_max = maximum_as_stored(row_max, x)
        xs = xs + (clamp_positive_infinity(x.to(COMPUTE)),)
    row_max = clamp_positive_infinity(row_max.to(COMPUTE))
    # while every class of a row is -inf there is no max: 0 stands in, exp(-inf - 0) = 0
    shift = tl.where(row_max == -float("inf"), 0.0, row_max)
    # 2. exp(x_j - max), kept for the gradient (x - shift first: exp(0) is exactly 1)
    sum_exp = tl.zeros((BLOCK_S,), COMPUTE)
    exps = ()
    for c in tl.static_range(C):
        e = exp2_approx((xs[c] - shift) * LOG2E)
        sum_exp += e
        exps = exps + (e,)
    # 3. the loss of each row, and the row's factors of the gradient
    if TARGETS == TARGETS_DISTANCE:
        near, far, y_class, gprime = _two_hot_rows_loss(
            pid,
            b,
            s,
            S,
            row_mask,
            t_ptr,
            x_rows,
            class_stride_x,
            shift,
            sum_exp,
            row_weight,
            grad_scale,
            loss_ptr,
            partial_ptr,
            C,
            REDUCE,
            COMPUTE,
        )
    else:
        valid, in_range, k_safe = _row_classes(t_ptr, b, s, S, row_mask, ignore_index, C)
        y_class = k_safe.to(tl.int32)  # compared with each class in 32 bits
        x_k = tl.zeros((BLOCK_S,), COMPUTE)
        for c in tl.static_range(C):
            x_k = tl.where(y_class == c, xs[c], x_k)
        gprime = _rows_loss(
            pid,
            b,
            s,
            S,
            row_mask,
            valid,
            in_range,
            k_safe,
            x_k,
            shift,
            sum_exp,
            alpha,
            alpha_ptr,
            gamma,
            row_weight,
            grad_scale,
            loss_ptr,
            partial_ptr,
            ALPHA_MODE,
            GAMMA,
            REDUCE,
            COMPUTE,
        )
        near, far = 1.0, 0.0
    # 4. dL/dx_j = g' (p_j - q_j), q the one-hot of k (near = 1), or the two-hot of y (near =
    # 1 - frac at l = floor(y), far = frac at l + 1); not folded further: a g' of inf (a
    # normalizer of 0) must give inf * (p - 1) = -inf at the target, as eager PyTorch
    if WRITE_GRAD:
        inv_sum = 1.0 / tl.where(row_mask, sum_exp, 1.0)
        for c in tl.static_range(C):
            q = tl.where(y_class == c, near, 0.0)
            if TARGETS == TARGETS_DISTANCE:
                q = tl.where(y_class == c - 1, far, q)
            g = gprime * (exps[c] * inv_sum - q)
            tl.store(g_rows + c * class_stride_g, g.to(g_rows.dtype.element_ty), mask=row_mask)


@triton.jit
def _two_hot_rows_loss(
    pid,
    b,
    s,
    S,
    row_mask,
    t_ptr,
    x_rows,
    class_stride_x,
    shift,
    sum_exp,
    row_weight,
    grad_scale,
    loss_ptr,
    partial_ptr,
    C: tl.constexpr,
    REDUCE: tl.constexpr,
    COMPUTE: tl.constexpr,
):
    """Stores the distribution focal loss of each row (times its weight; or the program's partial
    sum), -(1 - frac) log p_l - frac log p_(l + 1) with l = floor(y), frac = y - l, from its
    distance y, max and sum of exp; returns (1 - frac, frac, l, g') with g' the row's weight
    times ``grad_scale`` (NaN where y is outside [0, C - 1])."""
    distance = tl.load(t_ptr + b * S + s, mask=row_mask, other=0.0)
    # judged in the distances' own precision (n + 1e-7 in float64 is outside, though it rounds
    # to n in float32); else (NaN too) the row's loss and gradient are NaN
    in_range = (distance >= 0.0) & (distance <= C - 1)
    y = tl.where(in_range, distance.to(COMPUTE), 0.0)
    near_class = y.to(tl.int32)  # floor(y)
    frac = y - near_class.to(COMPUTE)
    # the two target logits read again (cache hits), not selected out of the row
    x_near = clamp_positive_infinity(
        tl.load(x_rows + near_class * class_stride_x, mask=row_mask, other=0.0).to(COMPUTE)
    )
    x_far = clamp_positive_infinity(
        tl.load(x_rows + (near_class + 1) * class_stride_x, mask=row_mask & (frac != 0.0), other=0.0).to(COMPUTE)
    )
    log_sum = log_of_sum(tl.where(row_mask, sum_exp, 1.0))
    u_near = _log_probs(x_near, shift, log_sum)
    u_far = _log_probs(x_far, shift, log_sum)
    # a bin with no target mass adds nothing, even where its log-probability is -inf
    loss = -(1.0 - frac) * u_near - tl.where(frac == 0.0, 0.0, frac * u_far)
    bad = tl.where(in_range, 0.0, float("nan"))
    _store_rows_loss(pid, b, s, S, row_mask, row_mask, loss + bad, row_weight, loss_ptr, partial_ptr, REDUCE)
    gprime = tl.where(row_mask, (row_weight + bad) * grad_scale, 0.0)
    return 1.0 - frac, frac, near_class, gprime


@triton.jit
def _log_probs(x, shift, log_sum):
    """u_j = log p_j from logits and their rows' max (``shift``) and log of the sum of exp (each
    broadcast to the logits); below -1e38 only from a clamped +inf elsewhere in the row: p_j = 0,
    u_j = -inf."""
    u = (clamp_positive_infinity(x) - shift) - log_sum
    return tl.where(u < CLAMPED_LOG_P, -float("inf"), u)


@triton.jit
def _soft_tile(
    u,
    p,
    one_minus_p,
    cls,
    tile_mask,
    k_class,
    near_q,
    far_q,
    cold_q,
    q_ptr,
    q_offsets,
    alpha_ptr,
    gamma,
    label_smoothing,
    C,
    ALPHA_MODE: tl.constexpr,
    GAMMA: tl.constexpr,
    TARGETS: tl.constexpr,
    SMOOTHING: tl.constexpr,
    MASS_EVERYWHERE: tl.constexpr,
    COMPUTE: tl.constexpr,
):
    """(q_j * loss_j, q_j * g'_j) of one class tile from u_j = log p_j, p_j and 1 - p_j, where q_j
    is the target probability: read (TARGETS_DENSE; smoothed: (1 - eps) q + eps / C), the two-hot
    of a distance (TARGETS_DISTANCE: ``near_q`` at class ``k_class``, ``far_q`` at the next), or
    the one-hot of k (``near_q`` at k, ``cold_q`` elsewhere: smoothed, 1 - eps + eps / C and
    eps / C); the row factors are 0 in rows that are not counted.  alpha_j is per class
    (ALPHA_PER_CLASS) or 1: one alpha for every class multiplies the row."""
    if TARGETS == TARGETS_DENSE:
        q = tl.load(q_ptr + q_offsets, mask=tile_mask, other=0.0).to(COMPUTE)
        if SMOOTHING:
            q = tl.where(tile_mask, q * (1.0 - label_smoothing) + label_smoothing / C, 0.0)
    elif TARGETS == TARGETS_DISTANCE:
        q = tl.where(cls[None, :] == k_class[:, None], near_q[:, None], 0.0)
        q = tl.where(cls[None, :] == k_class[:, None] + 1, far_q[:, None], q)
    else:
        q = tl.where(cls[None, :] == k_class[:, None], near_q[:, None], cold_q[:, None])
        if SMOOTHING:
            q = tl.where(tile_mask, q, 0.0)  # no mass past the row's last class
    if ALPHA_MODE == ALPHA_PER_CLASS:
        alpha_j = tl.load(alpha_ptr + cls, mask=cls < C, other=0.0).to(COMPUTE)[None, :] + tl.zeros(u.shape, COMPUTE)
    else:
        alpha_j = tl.full(u.shape, 1.0, COMPUTE)
    loss, gprime = softmax_focal_terms(u, p, one_minus_p, alpha_j, gamma, GAMMA)
    if not MASS_EVERYWHERE:
        # a class with no target mass adds nothing, even where its loss is infinite (a -inf logit)
        loss = tl.where(q == 0.0, 0.0, loss)
    return q * loss, q * gprime


@triton.jit
def _read_soft_tile(
    cls,
    x_rows,
    row_mask,
    shift,
    log_sum,
    k_class,
    near_q,
    far_q,
    cold_q,
    q_ptr,
    q_rows,
    stride_xc,
    stride_qc,
    alpha_ptr,
    gamma,
    label_smoothing,
    C,
    ALPHA_MODE: tl.constexpr,
    GAMMA: tl.constexpr,
    TARGETS: tl.constexpr,
    SMOOTHING: tl.constexpr,
    MASS_EVERYWHERE: tl.constexpr,
    COMPUTE: tl.constexpr,
):
    """(tile mask, u_j, q_j loss_j, q_j g'_j) of the class tile ``cls`` of rows longer than one
    tile, read again from memory (the looped passes of the soft-target kernel)."""
    tile_mask = row_mask[:, None] & (cls < C)[None, :]
    x = tl.load(x_rows[:, None] + cls[None, :] * stride_xc, mask=tile_mask, other=-float("inf"))
    u = _log_probs(x.to(COMPUTE), shift[:, None], log_sum[:, None])
    p, one_minus_p = probability_and_complement(u)
    loss_terms, g_terms = _soft_tile(
        u,
        p,
        one_minus_p,
        cls,
        tile_mask,
        k_class,
        near_q,
        far_q,
        cold_q,
        q_ptr,
        q_rows[:, None] + cls[None, :] * stride_qc,
        alpha_ptr,
        gamma,
        label_smoothing,
        C,
        ALPHA_MODE,
        GAMMA,
        TARGETS,
        SMOOTHING,
        MASS_EVERYWHERE,
        COMPUTE,
    )
    return tile_mask, u, loss_terms, g_terms


@triton.jit
def softmax_focal_soft_kernel(
    x_ptr,
    t_ptr,  # TARGETS_INDEX: class indices, TARGETS_DISTANCE: distances, one per row (b * S + s)
    q_ptr,  # TARGETS_DENSE: target probabilities of the logits' shape, (b, c, s) strides
    alpha_ptr,  # per-class alpha, C values (ALPHA_MODE == ALPHA_PER_CLASS)
    loss_ptr,  # out: loss per row (REDUCE False)
    partial_ptr,  # out: one partial sum per program (REDUCE True)
    grad_ptr,  # out: dL/dx with the grad strides (WRITE_GRAD)
    denominator_ptr,  # DENOMINATOR COUNT / TENSOR: the 0-d device tensor (see reduce.load_denominator)
    weight_ptr,  # weight broadcast to the (N, *) loss, (b, s) strides; None: no weight
    S,
    C: tl.constexpr,  # compiled in: rows of up to UNROLLED_CLASS_TILES narrow class tiles unroll them
    n_s_blocks,
    stride_xb,
    stride_xc,
    stride_xs,
    stride_gb,
    stride_gc,
    stride_gs,
    stride_qb,
    stride_qc,
    stride_qs,
    stride_wb,
    stride_ws,
    alpha,
    alpha_remainder,
    gamma,
    gamma_remainder,
    label_smoothing,
    label_smoothing_remainder,
    denominator,
    denominator_remainder,
    ignore_index: tl.int64,
    GAMMA: tl.constexpr,
    TARGETS: tl.constexpr,  # TARGETS_INDEX, TARGETS_DENSE or TARGETS_DISTANCE (class_walk.py)
    SMOOTHING: tl.constexpr,  # q becomes (1 - label_smoothing) q + label_smoothing / C
    DENOMINATOR: tl.constexpr,
    REDUCE: tl.constexpr,
    WRITE_GRAD: tl.constexpr,
    SINGLE_TILE: tl.constexpr,
    COMPUTE: tl.constexpr,
    WIDE_CLASS_OFFSETS: tl.constexpr,
    ROWS_OF_C: tl.constexpr,  # rows of C contiguous classes: row offsets s * C (class_walk.row_starts)
    BLOCK_S: tl.constexpr,
    BLOCK_C: tl.constexpr,
):
    """The soft-target focal loss -sum_j q_j * alpha_j * (1 - p_j) ** gamma * log p_j of each row
    (module docstring): a row that fits one tile is read once; a longer one three times (max and
    sum of exp, then the loss and sum_j q_j g'_j, then the gradient)."""
    # a factor's mode follows from what the launcher passed (None: absent)
    ALPHA_MODE: tl.constexpr = operand_mode(alpha_ptr is not None, alpha is not None)
    pid = tl.program_id(0)
    # a row longer than one tile: its narrow tiles unrolled and kept in registers (up to
    # UNROLLED_CLASS_TILES, one read), or looped (three reads)
    UNROLLED: tl.constexpr = not SINGLE_TILE and BLOCK_C <= UNROLLED_TILE_WIDTH and C <= UNROLLED_CLASS_TILES * BLOCK_C
    TILES: tl.constexpr = (C + BLOCK_C - 1) // BLOCK_C
    alpha = float64_scalar(alpha, alpha_remainder, COMPUTE)
    gamma = float64_scalar(gamma, gamma_remainder, COMPUTE)
    eps = float64_scalar(label_smoothing, label_smoothing_remainder, COMPUTE)
    b, s, row_mask = class_rows(pid, S, n_s_blocks, BLOCK_S)
    frac = tl.zeros((BLOCK_S,), COMPUTE)
    if TARGETS == TARGETS_DENSE:
        valid = row_mask
        in_range = tl.full((BLOCK_S,), 1, tl.int1)
        k_safe = tl.zeros((BLOCK_S,), tl.int64)  # unused: the targets are read
    elif TARGETS == TARGETS_DISTANCE:
        distance = tl.load(t_ptr + b * S + s, mask=row_mask, other=0.0)
        valid = row_mask
        # judged in the distances' own precision (n + 1e-7 in float64 is outside, though it rounds
        # to n in float32); else (NaN too) the row's loss and gradient are NaN
        in_range = (distance >= 0.0) & (distance <= C - 1)
        y = distance.to(COMPUTE)
        k_safe = tl.where(in_range, y, 0.0).to(tl.int64)  # floor(y)
        frac = tl.where(in_range, y - k_safe.to(COMPUTE), 0.0)
    else:
        valid, in_range, k_safe = _row_classes(t_ptr, b, s, S, row_mask, ignore_index, C)
    # the row's target factors (0 in rows not counted), and the class they sit at, in 32 bits
    k_class = k_safe.to(tl.int32)
    far_q = tl.zeros((BLOCK_S,), COMPUTE)
    cold_q = tl.zeros((BLOCK_S,), COMPUTE)
    if TARGETS == TARGETS_DISTANCE:
        near_q = tl.where(valid, 1.0 - frac, 0.0)
        far_q = tl.where(valid, frac, 0.0)
    elif SMOOTHING:
        near_q = tl.where(valid, (1.0 - eps) + eps / C, 0.0)
        cold_q = tl.where(valid, eps / C, 0.0)
    else:
        near_q = tl.where(valid, 1.0, 0.0)
    # one alpha for every class multiplies each row's loss and gradient (ALPHA_SCALAR)
    TILE_ALPHA: tl.constexpr = ALPHA_PER_CLASS if ALPHA_MODE == ALPHA_PER_CLASS else ALPHA_NONE
    row_alpha = 1.0
    if ALPHA_MODE == ALPHA_SCALAR:
        row_alpha = alpha
    # smoothed class indices in rows of whole tiles: every class of a counted row has mass
    MASS_EVERYWHERE: tl.constexpr = TARGETS == TARGETS_INDEX and SMOOTHING and C % BLOCK_C == 0
    x_rows, g_rows = row_starts(x_ptr, grad_ptr, b, s, stride_xb, stride_xs, stride_gb, stride_gs, C, ROWS_OF_C)
    q_rows = b * stride_qb + s * stride_qs
    classes = class_offsets(BLOCK_C, WIDE_CLASS_OFFSETS)
    if UNROLLED:
        # 1. the row's tiles into registers, each lane's max across them, then the row's
        xs = ()
        lane_max = tl.full((BLOCK_S, BLOCK_C), -float("inf"), COMPUTE)
        for tile in tl.static_range(TILES):
            cls = tile * BLOCK_C + classes
            x = tl.load(
                x_rows[:, None] + cls[None, :] * stride_xc,
                mask=row_mask[:, None] & (cls < C)[None, :],
                other=-float("inf"),
            )
            x = clamp_positive_infinity(x.to(COMPUTE))
            lane_max = tl.maximum(lane_max, x)
            xs = xs + (x,)
        row_max = tl.where(row_mask, tl.max(lane_max, axis=1), 0.0)
        # while every class of a row is -inf there is no max: 0 stands in
        shift = tl.where(row_max == -float("inf"), 0.0, row_max)
        # 2. exp(x_j - max) once a logit (x - shift first: exp(0) is exactly 1), kept
        exps = ()
        lane_sum = tl.zeros((BLOCK_S, BLOCK_C), COMPUTE)
        for tile in tl.static_range(TILES):
            e = exp2_approx((xs[tile] - shift[:, None]) * LOG2E)
            lane_sum += e
            exps = exps + (e,)
        sum_exp = tl.where(row_mask, tl.sum(lane_sum, axis=1), 1.0)
        log_sum = log_of_sum(sum_exp)
        inv_sum = reciprocal_approx(sum_exp)
        # 3. each class's terms with p_j = e_j / sum and 1 - p_j = (sum - e_j) / sum: sum - e_j >= 1
        # but at the max, where it is sum - 1, as exact as the row's log of its sum
        gs = ()
        lane_loss = tl.zeros((BLOCK_S, BLOCK_C), COMPUTE)
        lane_g = tl.zeros((BLOCK_S, BLOCK_C), COMPUTE)
        for tile in tl.static_range(TILES):
            cls = tile * BLOCK_C + classes
            tile_mask = row_mask[:, None] & (cls < C)[None, :]
            loss_terms, g_terms = _soft_tile(
                _log_probs(xs[tile], shift[:, None], log_sum[:, None]),
                exps[tile] * inv_sum[:, None],
                (sum_exp[:, None] - exps[tile]) * inv_sum[:, None],
                cls,
                tile_mask,
                k_class,
                near_q,
                far_q,
                cold_q,
                q_ptr,
                q_rows[:, None] + cls[None, :] * stride_qc,
                alpha_ptr,
                gamma,
                eps,
                C,
                TILE_ALPHA,
                GAMMA,
                TARGETS,
                SMOOTHING,
                MASS_EVERYWHERE,
                COMPUTE,
            )
            lane_loss += loss_terms
            lane_g += g_terms
            gs = gs + (g_terms,)
        row_loss = tl.sum(lane_loss, axis=1)
        row_g = tl.sum(lane_g, axis=1)
    else:
        if SINGLE_TILE:
            tile_mask = row_mask[:, None] & (classes < C)[None, :]
            x = tl.load(x_rows[:, None] + classes[None, :] * stride_xc, mask=tile_mask, other=-float("inf"))
            x = clamp_positive_infinity(x.to(COMPUTE))
            row_max = tl.where(row_mask, tl.max(x, axis=1), 0.0)
            sum_exp = tl.sum(tl.exp(x - row_max[:, None]), axis=1)
        else:
            row_max, sum_exp = online_max_sum(x_rows, row_mask, C, stride_xc, classes, BLOCK_S, BLOCK_C, COMPUTE)
        # while every class of a row is -inf there is no max: 0 stands in (as online_max_sum)
        shift = tl.where(row_max == -float("inf"), 0.0, row_max)
        log_sum = log_of_sum(tl.where(row_mask, sum_exp, 1.0))
        if SINGLE_TILE:
            u = _log_probs(x, shift[:, None], log_sum[:, None])
            p, one_minus_p = probability_and_complement(u)
            loss_terms, g_terms = _soft_tile(
                u,
                p,
                one_minus_p,
                classes,
                tile_mask,
                k_class,
                near_q,
                far_q,
                cold_q,
                q_ptr,
                q_rows[:, None] + classes[None, :] * stride_qc,
                alpha_ptr,
                gamma,
                eps,
                C,
                TILE_ALPHA,
                GAMMA,
                TARGETS,
                SMOOTHING,
                MASS_EVERYWHERE,
                COMPUTE,
            )
            row_loss = tl.sum(loss_terms, axis=1)
            row_g = tl.sum(g_terms, axis=1)
        else:
            row_loss = tl.zeros((BLOCK_S,), COMPUTE)
            row_g = tl.zeros((BLOCK_S,), COMPUTE)
            for c0 in range(0, C, BLOCK_C):
                _, _, loss_terms, g_terms = _read_soft_tile(
                    c0 + classes,
                    x_rows,
                    row_mask,
                    shift,
                    log_sum,
                    k_class,
                    near_q,
                    far_q,
                    cold_q,
                    q_ptr,
                    q_rows,
                    stride_xc,
                    stride_qc,
                    alpha_ptr,
                    gamma,
                    eps,
                    C,
                    TILE_ALPHA,
                    GAMMA,
                    TARGETS,
                    SMOOTHING,
                    MASS_EVERYWHERE,
                    COMPUTE,
                )
                row_loss += tl.sum(loss_terms, axis=1)
                row_g += tl.sum(g_terms, axis=1)
    row_weight = _row_weight(b, s, row_mask, weight_ptr, stride_wb, stride_ws, COMPUTE)
    bad = tl.where(in_range, 0.0, float("nan"))  # a class index outside [0, C) not ignored, a distance outside
    _store_rows_loss(
        pid, b, s, S, row_mask, valid, row_loss * row_alpha + bad, row_weight, loss_ptr, partial_ptr, REDUCE
    )
    row_g = tl.where(valid, row_g, 0.0)  # an uncounted row's loss terms may be NaN (MASS_EVERYWHERE)
    if WRITE_GRAD:
        scale = gradient_scale(denominator_ptr, denominator, denominator_remainder, DENOMINATOR, COMPUTE)
        row_scale = tl.where(valid, (row_alpha * row_weight + bad) * scale, 0.0)
        # dL/dx_j = p_j * sum_i q_i g'_i - q_j g'_j
        if UNROLLED:
            for tile in tl.static_range(TILES):
                cls = tile * BLOCK_C + classes
                g = (exps[tile] * (inv_sum * row_g)[:, None] - gs[tile]) * row_scale[:, None]
                tl.store(
                    g_rows[:, None] + cls[None, :] * stride_gc,
                    g.to(grad_ptr.dtype.element_ty),
                    mask=row_mask[:, None] & (cls < C)[None, :],
                )
        elif SINGLE_TILE:
            g = (tl.exp(u) * row_g[:, None] - g_terms) * row_scale[:, None]
            tl.store(g_rows[:, None] + classes[None, :] * stride_gc, g.to(grad_ptr.dtype.element_ty), mask=tile_mask)
        else:
            for c0 in range(0, C, BLOCK_C):
                cls = c0 + classes
                tile_mask, u, _, g_terms = _read_soft_tile(
                    cls,
                    x_rows,
                    row_mask,
                    shift,
                    log_sum,
                    k_class,
                    near_q,
                    far_q,
                    cold_q,
                    q_ptr,
                    q_rows,
                    stride_xc,
                    stride_qc,
                    alpha_ptr,
                    gamma,
                    eps,
                    C,
                    TILE_ALPHA,
                    GAMMA,
                    TARGETS,
                    SMOOTHING,
                    MASS_EVERYWHERE,
                    COMPUTE,
                )
                g = (tl.exp(u) * row_g[:, None] - g_terms) * row_scale[:, None]
                tl.store(g_rows[:, None] + cls[None, :] * stride_gc, g.to(grad_ptr.dtype.element_ty), mask=tile_mask)


def softmax_focal_soft_bytes_per_element(logit_bytes, single_tile, dense_bytes=0, write_grad=True):
    """Ideal bytes per logit of the soft-target kernel: the logits (and dense targets) read once, or
    three times (twice for the targets) for rows longer than one tile, and the gradient written."""
    reads = 1 if single_tile else 3
    target_reads = 1 if single_tile else 2
    if not write_grad:
        return logit_bytes * (1 if single_tile else 2) + dense_bytes
    return logit_bytes * (reads + 1) + dense_bytes * target_reads
