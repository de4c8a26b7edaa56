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

Hard labels (bool / integer targets, nonzero = positive) take a shorter path on
the signed margin s = x for positives, -x for negatives: p_t = sigmoid(s),
ce = sp(-s), w = exp(-gamma * sp(s)) (no logarithm of 1 - p_t at all) and
dL/dx = -sign * alpha_t * w * [(1 - p_t) + gamma * p_t * ce].

Poly-1 (POLY, Leng et al. 2022) adds epsilon * (1 - p_t) to ce inside the focal weight, as timm's
PolyBinaryCrossEntropy: loss = alpha_t * w * (ce + eps * (1 - p_t)), and the gradient gains
alpha_t * w * (gamma + 1) * eps * (1 - 2t) * p * q (d(1 - p_t)/dx times d(w (1 - p_t))/d(1 - p_t)).

pos_weight multiplies the positive term of ce (and so, for hard labels, the
whole loss of a positive); label smoothing and probability inputs (ACTIVATED,
``probability_terms``) send hard labels down the soft-target path; a weight
multiplies loss and gradient; the gradient is divided by the loss's denominator
(``reduce.gradient_scale``).  Both kernels also run the varifocal and quality
focal losses (LOSS, element terms in ``quality_focal``), the class-index kernel
against a score per row or dense targets (TARGETS) and, for QFL, with one loss
per row (ROW_LOSS).  Every option is a compile-time switch: the plain call
compiles to the code it had before them.
"""

import triton
import triton.language as tl

from .class_walk import (
    TARGETS_DENSE,
    TARGETS_INDEX,
    TARGETS_INDEX_SCORES,
    UNROLLED_CLASS_TILES,
    UNROLLED_TILE_WIDTH,
    class_offsets,
    class_rows,
    row_starts,
)
from .operands import OPERAND_NONE, OPERAND_SCALAR, OPERAND_TENSOR, load_flat_operand, operand_mode
from .quality_focal import FOCAL, IA_BCE, MATCHABILITY_AWARE, QUALITY_FOCAL, VARIFOCAL, quality_terms
from .reduce import REDUCE_CHUNK, REDUCE_GROUP, gradient_scale, lane_sums, stream_sums
from .stable_math import (
    ANY_GAMMA,
    BIG,
    LOG2E,
    float64_scalar,
    focal_power,
    probability_bce,
    ratio_or_zero,
    sigmoid_parts,
    small_ratio_or_zero,
)


@triton.jit
def soft_label_terms(raw_x, t, pos_weight, gamma, poly_epsilon, GAMMA: tl.constexpr, POLY: tl.constexpr):
    """(w, ce, s) of each element for float targets t in [0, 1]: loss = w * ce, dL/dx = w * s, before
    alpha (NaN stays NaN); with POLY, ce carries the Poly-1 term.  ``pos_weight`` multiplies the
    positive term of the BCE as in ``F.binary_cross_entropy_with_logits`` (ce = pos_weight * t *
    sp(-x) + (1 - t) * sp(x), dce/dx = (1 - t) p - pos_weight * t * q).

    An infinite logit needs no clamp: e = 0, so p, q are 0 and 1 and one softplus is inf.  A
    target of exactly 0 or 1 multiplies that inf by 0: each BCE term is taken as max(term, 0),
    whose NaN is 0 (IEEE maxNum; a NaN logit stays NaN through w); an inf left in ce is the true
    loss.  The gradient's ce * p q / (1 - p_t) takes ce capped at 3e38 (p q is 0 there)."""
    e, r, log1p_e = sigmoid_parts(raw_x, True)
    positive_x = raw_x >= 0.0
    er = e * r
    p = tl.where(positive_x, r, er)
    q = tl.where(positive_x, er, r)
    sp_pos = tl.maximum(raw_x, 0.0) + log1p_e  # softplus(x) = -log(1 - p)
    sp_neg = tl.maximum(-raw_x, 0.0) + log1p_e  # softplus(-x) = -log p
    weighted_t = t * pos_weight
    ce = tl.maximum(weighted_t * sp_neg, 0.0) + tl.maximum((1.0 - t) * sp_pos, 0.0)
    one_minus_pt = t * q + (1.0 - t) * p
    w = focal_power(one_minus_pt, gamma, GAMMA)
    pq_over = small_ratio_or_zero(p * q, one_minus_pt)  # <= max(p, q) <= 1
    dce = (1.0 - t) * p - weighted_t * q
    slope = dce + gamma * (1.0 - 2.0 * t) * (tl.minimum(ce, BIG) * pq_over)
    if POLY:
        ce += poly_epsilon * one_minus_pt
        slope += ((gamma + 1.0) * poly_epsilon) * ((1.0 - 2.0 * t) * (p * q))
    return w, ce, slope


@triton.jit
def hard_label_terms(
    raw_x,
    positive,
    factor,
    grad_factor,
    gamma,
    poly_epsilon,
    GAMMA: tl.constexpr,
    ZERO_FACTOR: tl.constexpr,
    DETACH: tl.constexpr,
    POLY: tl.constexpr,
):
    """(factor * loss, grad_factor * |dL/dx|) of each element for boolean labels ``positive``
    (``factor``: alpha_t and pos_weight; ``grad_factor``: the same, signed and divided by the
    denominator), straight from the unclamped logit; with DETACH no gradient through w; with POLY
    the Poly-1 term: loss = factor * w * (ce + eps * (1 - p_t)), and with the margin s,
    -dL/ds = w * [(1 - p_t) + p_t * (gamma * ce + (gamma + 1) * eps * (1 - p_t))].

    An infinite logit needs no clamp: exp2 of -inf is 0, so e = 0, r = 1 and the margin is
    +-inf; on the right side ce = 0 and 1 - p_t = 0 (loss and gradient 0), on the wrong side
    ce = inf (the loss is inf) and p_t = 0, where p_t * ce is taken with ce capped at 3e38
    (0, not 0 * inf).  A factor of 0 (alpha 0 or 1, pos_weight 0) keeps its loss 0 even there: a
    select the launcher compiles in (ZERO_FACTOR) only when a factor can be 0.

    With GAMMA 1 or 2, e = exp(-|x|) may flush below 2 ** -126 (stable_math.sigmoid_parts): there
    the loss and gradient of the right side are w times terms in e (w = e ** gamma), and on the
    wrong side e only adds to 1 - p_t = r ~ 1 and to ce >= 87, so every result is the same.
    """
    e, r, log1p_e = sigmoid_parts(raw_x, not (GAMMA == 1 or GAMMA == 2))
    margin = tl.where(positive, raw_x, -raw_x)
    correct = margin >= 0.0
    er = e * r
    p_t = tl.where(correct, r, er)
    one_minus_pt = tl.where(correct, er, r)
    ce = tl.maximum(-margin, 0.0) + log1p_e  # softplus(-margin) = -log p_t
    if GAMMA == ANY_GAMMA:
        # w = exp(-gamma * softplus(margin)) = exp2(-gamma * log2(e) * softplus(margin)), the margin
        # capped at 3e38 (gamma = 0 runs here in the class-index kernel: 0 * inf is NaN); multiplied
        # left to right, so float64 math keeps the constant in float64
        w = tl.exp2((tl.minimum(tl.maximum(margin, 0.0), BIG) + log1p_e) * gamma * -LOG2E)
    else:
        w = focal_power(one_minus_pt, gamma, GAMMA)
    weighted = factor * w
    if POLY:
        loss = weighted * (ce + poly_epsilon * one_minus_pt)
    else:
        loss = weighted * ce
    if ZERO_FACTOR:
        loss = tl.where(weighted == 0.0, 0.0, loss)
    if DETACH:
        slope = one_minus_pt
    elif POLY:
        poly_slope = ((gamma + 1.0) * poly_epsilon) * (p_t * one_minus_pt)
        slope = one_minus_pt + gamma * (p_t * tl.minimum(ce, BIG)) + poly_slope  # p_t * ce first: 0, not 0 * 2 BIG
    else:
        slope = one_minus_pt + gamma * (p_t * tl.minimum(ce, BIG))
    return loss, (grad_factor * w) * slope


@triton.jit
def probability_terms(p, t, gamma, poly_epsilon, GAMMA: tl.constexpr, POLY: tl.constexpr):
    """Elementwise (loss, dL/dp) without alpha for probabilities p (``activated=True``), with the BCE
    of ``F.binary_cross_entropy`` (mmdet's focal loss with probabilities, YOLOv6, PP-YOLOE;
    stable_math.probability_bce):

        m = 1 - p_t = t (1 - p) + (1 - t) p,  w = m ** gamma,  dm/dp = 1 - 2t
        dL/dp = w * dce + gamma * (1 - 2t) * w * ce / m   (ce / m taken as 0 where m = 0)

    ce / m stays near 1 as p -> 0 at a negative (ce = -log(1 - p) ~ p = m) and as p -> 1 at a
    positive, so forming it before multiplying by w keeps the term where w * ce would underflow.
    POLY adds w * eps * m to the loss and (gamma + 1) * eps * (1 - 2t) * w to dL/dp.
    """
    ce, dce = probability_bce(p, t)
    m = t * (1.0 - p) + (1.0 - t) * p
    w = focal_power(m, gamma, GAMMA)
    loss = w * ce
    grad = w * dce + gamma * (1.0 - 2.0 * t) * (w * ratio_or_zero(ce, m))
    if POLY:
        loss += poly_epsilon * (w * m)
        grad += ((gamma + 1.0) * poly_epsilon) * ((1.0 - 2.0 * t) * w)
    return loss, grad


@triton.jit
def binary_focal_terms(
    raw_x,
    labels,
    alpha,
    pos_weight,
    label_smoothing,
    label_smoothing_remainder,
    gamma,
    grad_scale,
    poly_epsilon,
    HAS_ALPHA: tl.constexpr,
    HARD_LABELS: tl.constexpr,
    SMOOTHING: tl.constexpr,
    ACTIVATED: tl.constexpr,
    GAMMA: tl.constexpr,
    ZERO_FACTOR: tl.constexpr,
    POLY: tl.constexpr,
    COMPUTE: tl.constexpr,
):
    """(loss, dL/dx * grad_scale) of each element with its alpha_t and pos_weight factors, for
    ``labels``: bool positives (HARD_LABELS) or float targets.  A loss that truly is infinite (an
    infinite logit on the wrong side of its target) is inf; a target (with ACTIVATED, a
    probability) outside [0, 1] has no meaning and gives NaN loss and gradient.  ``alpha`` and
    ``pos_weight`` are numbers or per-element values; label smoothing and probabilities turn hard
    labels into float targets."""
    if HARD_LABELS and not (SMOOTHING or ACTIVATED):
        # pos_weight multiplies the whole focal term of a positive (w does not depend on it); alpha_t,
        # the gradient's sign and 1 / denominator are one select
        if HAS_ALPHA:
            factor = tl.where(labels, alpha * pos_weight, 1.0 - alpha)
            grad_factor = tl.where(labels, -(alpha * pos_weight) * grad_scale, (1.0 - alpha) * grad_scale)
        else:
            factor = tl.where(labels, pos_weight, 1.0)
            grad_factor = tl.where(labels, -pos_weight * grad_scale, grad_scale)
        return hard_label_terms(
            raw_x, labels, factor, grad_factor, gamma, poly_epsilon, GAMMA, ZERO_FACTOR, False, POLY
        )
    if HARD_LABELS:
        t = tl.where(labels, 1.0, 0.0).to(COMPUTE)
    else:
        t = labels
    if SMOOTHING:
        eps = float64_scalar(label_smoothing, label_smoothing_remainder, COMPUTE)
        t = t * (1.0 - eps) + eps * 0.5
    if ACTIVATED:
        loss, grad = probability_terms(raw_x, t, gamma, poly_epsilon, GAMMA, POLY)  # clamped logs: every loss finite
        outside = (t < 0.0) | (t > 1.0) | (raw_x < 0.0) | (raw_x > 1.0) | (raw_x != raw_x)  # the clamps hide a NaN
        nan = tl.where(outside, float("nan"), 0.0)
        if HAS_ALPHA:
            factor = alpha * t + (1.0 - alpha) * (1.0 - t)
            loss = factor * loss
            grad = factor * grad
        loss += nan
        grad = (grad + nan) * grad_scale
    else:
        t = tl.where((t < 0.0) | (t > 1.0), float("nan"), t)  # NaN from here to loss and gradient
        w, ce, slope = soft_label_terms(raw_x, t, pos_weight, gamma, poly_epsilon, GAMMA, POLY)
        if HAS_ALPHA:
            w = (alpha * t + (1.0 - alpha) * (1.0 - t)) * w
        # a factor (or w) of 0 against an infinite ce: the loss is 0, not 0 * inf
        loss = tl.where(w == 0.0, 0.0, w * ce)
        grad = (w * grad_scale) * slope
    return loss, grad


@triton.jit
def binary_loss_terms(
    raw_x,
    labels,
    q,
    alpha,
    pos_weight,
    label_smoothing,
    label_smoothing_remainder,
    gamma,
    grad_scale,
    poly_epsilon,
    LOSS: tl.constexpr,
    DETACH: tl.constexpr,
    HAS_ALPHA: tl.constexpr,
    HARD_LABELS: tl.constexpr,
    SMOOTHING: tl.constexpr,
    ACTIVATED: tl.constexpr,
    GAMMA: tl.constexpr,
    ZERO_FACTOR: tl.constexpr,
    POLY: tl.constexpr,
    COMPUTE: tl.constexpr,
):
    """(loss, dL/dx * grad_scale) of each element of the binary loss LOSS, the one place the
    kernels choose a loss's element terms: the focal loss against ``labels`` (bool positives with
    HARD_LABELS, else float targets; ``q`` unused), VFL / QFL against the soft targets ``q``,
    ``labels`` their positives (quality_focal.quality_terms; ``gamma`` is QFL's beta)."""
    if LOSS == FOCAL:
        return binary_focal_terms(
            raw_x,
            labels,
            alpha,
            pos_weight,
            label_smoothing,
            label_smoothing_remainder,
            gamma,
            grad_scale,
            poly_epsilon,
            HAS_ALPHA,
            HARD_LABELS,
            SMOOTHING,
            ACTIVATED,
            GAMMA,
            ZERO_FACTOR,
            POLY,
            COMPUTE,
        )
    loss, grad = quality_terms(raw_x, q, labels, alpha, gamma, LOSS, DETACH, ACTIVATED, GAMMA)
    return loss, grad * grad_scale


@triton.jit
def _binary_step(
    start,
    limit,
    lanes,
    pointers,
    operands,
    scalars,
    ignore_label,
    LOSS: tl.constexpr,
    DETACH: tl.constexpr,
    ALPHA_MODE: tl.constexpr,
    GAMMA: tl.constexpr,
    POS_WEIGHT_MODE: tl.constexpr,
    HAS_WEIGHT: tl.constexpr,
    HARD_LABELS: tl.constexpr,
    IGNORE: tl.constexpr,
    SMOOTHING: tl.constexpr,
    ACTIVATED: tl.constexpr,
    ZERO_FACTOR: tl.constexpr,
    POLY: tl.constexpr,
    REDUCE: tl.constexpr,
    WRITE_GRAD: tl.constexpr,
    COMPUTE: tl.constexpr,
    MASKED: tl.constexpr,
    BLOCK: tl.constexpr,
):
    """One step of the element-wise walk: BLOCK elements from flat index ``start`` (the first
    ``limit`` of them when MASKED: the walk's last, partial step; full steps compile without
    masks).  Writes the losses ('none') and gradients; returns ``lanes`` plus this step's group sums."""
    x_ptr, t_ptr, loss_ptr, grad_ptr = pointers
    alpha_ptr, alpha_layout, pos_weight_ptr, pos_weight_layout, weight_ptr, weight_layout = operands
    alpha, pw, gamma, scale, label_smoothing, label_smoothing_remainder, poly_epsilon = scalars
    block = tl.arange(0, BLOCK)
    if MASKED:
        mask = block < limit
    else:
        mask = tl.full((BLOCK,), 1, tl.int1)  # folded away: full steps load and store unmasked
    offs = start + block  # the flat index, for operands read through their strides
    if ALPHA_MODE == OPERAND_TENSOR:
        alpha = load_flat_operand(alpha_ptr, offs, mask, alpha_layout, COMPUTE)
    if POS_WEIGHT_MODE == OPERAND_TENSOR:
        pw = load_flat_operand(pos_weight_ptr, offs, mask, pos_weight_layout, COMPUTE)
    raw_x = tl.load(x_ptr + start + block, mask=mask, other=0.0).to(COMPUTE)
    t = tl.load(t_ptr + start + block, mask=mask, other=0)
    if HARD_LABELS:
        labels = t != 0
    else:
        labels = t.to(COMPUTE)
    # VFL / QFL over soft targets: positive where q > 0 (mmdet's varifocal loss)
    loss, grad = binary_loss_terms(
        raw_x,
        labels if LOSS == FOCAL else labels > 0.0,
        labels,
        alpha,
        pw,
        label_smoothing,
        label_smoothing_remainder,
        gamma,
        scale,
        poly_epsilon,
        LOSS,
        DETACH,
        ALPHA_MODE != OPERAND_NONE,
        HARD_LABELS,
        SMOOTHING,
        ACTIVATED,
        GAMMA,
        ZERO_FACTOR,
        POLY,
        COMPUTE,
    )
    if HAS_WEIGHT:
        weight = load_flat_operand(weight_ptr, offs, mask, weight_layout, COMPUTE)
        loss = weight * loss
        grad = weight * grad
    if IGNORE:
        kept = t != ignore_label
        loss = tl.where(kept, loss, 0.0)
        grad = tl.where(kept, grad, 0.0)
    if REDUCE:
        lanes += lane_sums(tl.where(mask, loss, 0.0) if MASKED else loss, BLOCK)
    else:
        tl.store(loss_ptr + start + block, loss.to(loss_ptr.dtype.element_ty), mask=mask)
    if WRITE_GRAD:
        tl.store(grad_ptr + start + block, grad.to(grad_ptr.dtype.element_ty), mask=mask)
    return lanes


@triton.jit
def sigmoid_focal_fwd_kernel(
    # ---- pointers
    x_ptr,  # logits (probabilities with ACTIVATED), n elements, contiguous
    t_ptr,  # targets, n elements, contiguous: float, or integer labels (bool viewed as uint8)
    loss_ptr,  # out: n losses (REDUCE False) in the loss dtype
    partial_ptr,  # out: one partial sum per stream (REDUCE True), COMPUTE dtype (see reduce.py)
    grad_ptr,  # out: n gradients dL/dx / denominator (WRITE_GRAD True), in the gradient buffer's dtype
    denominator_ptr,  # DENOMINATOR COUNT / TENSOR: the 0-d device tensor (see reduce.load_denominator)
    alpha_ptr,  # ALPHA_MODE == OPERAND_TENSOR: per-element alpha (per class, broadcast), flat operand
    pos_weight_ptr,  # POS_WEIGHT_MODE == OPERAND_TENSOR: pos_weight broadcast to the logits, flat operand
    weight_ptr,  # weight broadcast to the logits, flat operand (see operands.py); None: no weight
    # ---- sizes
    n,
    streams,  # the grid-stride walk: program p runs streams p * BLOCK / REDUCE_CHUNK + [0, BLOCK / REDUCE_CHUNK)
    # ---- scalars
    alpha,  # each float scalar comes with its float64 remainder (see stable_math.float64_scalar)
    alpha_remainder,
    gamma,
    gamma_remainder,
    pos_weight,
    pos_weight_remainder,
    label_smoothing,
    label_smoothing_remainder,
    poly_epsilon,  # POLY: the Poly-1 coefficient
    poly_epsilon_remainder,
    denominator,
    denominator_remainder,
    ignore_label,  # IGNORE: labels equal to it contribute no loss and no gradient
    # ---- the flat operands' merged dims (operands.load_flat_operand)
    alpha_inner_size,
    alpha_middle_size,
    alpha_inner_stride,
    alpha_middle_stride,
    alpha_outer_stride,
    pos_weight_inner_size,
    pos_weight_middle_size,
    pos_weight_inner_stride,
    pos_weight_middle_stride,
    pos_weight_outer_stride,
    weight_inner_size,
    weight_middle_size,
    weight_inner_stride,
    weight_middle_stride,
    weight_outer_stride,
    size_bucket,  # autotune key only: ceil(log2(n))
    # ---- meta-parameters: the loss and its options
    LOSS: tl.constexpr,  # FOCAL, or VARIFOCAL / QUALITY_FOCAL / MATCHABILITY_AWARE on float targets
    DETACH: tl.constexpr,  # no gradient through the weight alpha * s ** gamma (VARIFOCAL's choice, MAL's rule)
    GAMMA: tl.constexpr,  # gamma at compile time: 0, 1, 2, or ANY_GAMMA (see stable_math.focal_power)
    ALPHA_DIMS: tl.constexpr,  # the merged dims of each flat operand
    POS_WEIGHT_DIMS: tl.constexpr,
    WEIGHT_DIMS: tl.constexpr,
    HARD_LABELS: tl.constexpr,  # targets are integer labels: nonzero = positive
    IGNORE: tl.constexpr,  # HARD_LABELS only: skip labels equal to ignore_label
    SMOOTHING: tl.constexpr,  # targets t become t * (1 - label_smoothing) + label_smoothing / 2
    ACTIVATED: tl.constexpr,  # x holds probabilities (see probability_terms)
    ZERO_FACTOR: tl.constexpr,  # alpha_t * pos_weight can be 0 (see hard_label_terms)
    POLY: tl.constexpr,  # the focal loss with the Poly-1 term (poly_epsilon != 0)
    # ---- meta-parameters: outputs, precision, tile
    DENOMINATOR: tl.constexpr,  # reduce.DENOMINATOR_*
    REDUCE: tl.constexpr,
    WRITE_GRAD: tl.constexpr,
    COMPUTE: tl.constexpr,  # tl.float32, or tl.float64 for float64 logits
    BLOCK: tl.constexpr,  # a multiple of REDUCE_CHUNK
):
    # a factor's mode follows from what the launcher passed (None: absent)
    ALPHA_MODE: tl.constexpr = operand_mode(alpha_ptr is not None, alpha is not None)
    POS_WEIGHT_MODE: tl.constexpr = operand_mode(pos_weight_ptr is not None, pos_weight is not None)
    # the launchers' combinations: VFL / QFL take float targets and none of the focal loss's options
    tl.static_assert(LOSS == FOCAL or not (HARD_LABELS or SMOOTHING or ACTIVATED or POS_WEIGHT_MODE != OPERAND_NONE))
    tl.static_assert(HARD_LABELS or not IGNORE)
    tl.static_assert(LOSS == VARIFOCAL or (LOSS == MATCHABILITY_AWARE) == DETACH)  # MAL: always detached
    tl.static_assert(not (ACTIVATED and POS_WEIGHT_MODE != OPERAND_NONE))
    tl.static_assert(LOSS == FOCAL or not POLY)
    HAS_WEIGHT: tl.constexpr = weight_ptr is not None
    pid = tl.program_id(0).to(tl.int64)
    alpha = float64_scalar(alpha, alpha_remainder, COMPUTE)
    pw = 1.0
    if POS_WEIGHT_MODE == OPERAND_SCALAR:
        pw = float64_scalar(pos_weight, pos_weight_remainder, COMPUTE)
    scale = 1.0
    if WRITE_GRAD:
        scale = gradient_scale(denominator_ptr, denominator, denominator_remainder, DENOMINATOR, COMPUTE)
    pointers = (x_ptr, t_ptr, loss_ptr, grad_ptr)
    operands = (
        alpha_ptr,
        (alpha_inner_size, alpha_middle_size, alpha_inner_stride, alpha_middle_stride, alpha_outer_stride, ALPHA_DIMS),
        pos_weight_ptr,
        (
            pos_weight_inner_size,
            pos_weight_middle_size,
            pos_weight_inner_stride,
            pos_weight_middle_stride,
            pos_weight_outer_stride,
            POS_WEIGHT_DIMS,
        ),
        weight_ptr,
        (
            weight_inner_size,
            weight_middle_size,
            weight_inner_stride,
            weight_middle_stride,
            weight_outer_stride,
            WEIGHT_DIMS,
        ),
    )
    scalars = (
        alpha,
        pw,
        float64_scalar(gamma, gamma_remainder, COMPUTE),
        scale,
        label_smoothing,
        label_smoothing_remainder,
        float64_scalar(poly_epsilon, poly_epsilon_remainder, COMPUTE),
    )
    lanes = tl.zeros((BLOCK // REDUCE_GROUP,), COMPUTE)
    # this program's steps start at pid * BLOCK + step * stride; all but the walk's last are full
    first = pid * BLOCK
    stride = (streams * REDUCE_CHUNK).to(tl.int64)
    full_steps = tl.where(n - first >= BLOCK, (n - first - BLOCK) // stride + 1, 0)
    for step in range(full_steps):
        lanes = _binary_step(
            first + step * stride,
            BLOCK,
            lanes,
            pointers,
            operands,
            scalars,
            ignore_label,
            LOSS,
            DETACH,
            ALPHA_MODE,
            GAMMA,
            POS_WEIGHT_MODE,
            HAS_WEIGHT,
            HARD_LABELS,
            IGNORE,
            SMOOTHING,
            ACTIVATED,
            ZERO_FACTOR,
            POLY,
            REDUCE,
            WRITE_GRAD,
            COMPUTE,
            False,
            BLOCK,
        )
    tail = first + full_steps * stride
    if tail < n:
        lanes = _binary_step(
            tail,
            (n - tail).to(tl.int32),
            lanes,
            pointers,
            operands,
            scalars,
            ignore_label,
            LOSS,
            DETACH,
            ALPHA_MODE,
            GAMMA,
            POS_WEIGHT_MODE,
            HAS_WEIGHT,
            HARD_LABELS,
            IGNORE,
            SMOOTHING,
            ACTIVATED,
            ZERO_FACTOR,
            POLY,
            REDUCE,
            WRITE_GRAD,
            COMPUTE,
            True,
            BLOCK,
        )
    if REDUCE:
        stream = pid * (BLOCK // REDUCE_CHUNK) + tl.arange(0, BLOCK // REDUCE_CHUNK)
        tl.store(partial_ptr + stream, stream_sums(lanes, BLOCK))


# The fewest classes for which the class-index kernel takes the tiles as negatives and each row's
# positive after them (NEGATIVES_FIRST): the positive costs about as much as 8 negatives a row a
# thread, so rows of fewer classes keep the one select a label per element ((N, 2) bf16: 65.4
# SASS per logit, 83.8 negatives first; (N, 80): 41.6 -> 31.1).  The tiles then also hold two
# 128-bit vectors of logits a thread (tuning.tile_shape).
NEGATIVES_FIRST_CLASSES = tl.constexpr(16)


@triton.jit
def _index_tile(
    c0,
    sums,
    rows,
    pointers,
    strides,
    scalars,
    C: tl.constexpr,
    LOSS: tl.constexpr,
    TARGETS: tl.constexpr,
    DETACH: tl.constexpr,
    ROW_LOSS: tl.constexpr,
    ALPHA_MODE: tl.constexpr,
    GAMMA: tl.constexpr,
    POS_WEIGHT_MODE: tl.constexpr,
    HAS_WEIGHT: tl.constexpr,
    SMOOTHING: tl.constexpr,
    ACTIVATED: tl.constexpr,
    ZERO_FACTOR: tl.constexpr,
    POLY: tl.constexpr,
    REDUCE: tl.constexpr,
    WRITE_GRAD: tl.constexpr,
    COMPUTE: tl.constexpr,
    WIDE_CLASS_OFFSETS: tl.constexpr,
    ROW_MASKED: tl.constexpr,
    NEGATIVES_FIRST: tl.constexpr,
    BLOCK_S: tl.constexpr,
    BLOCK_C: tl.constexpr,
):
    """One (BLOCK_S rows, BLOCK_C classes) tile from class c0 of the class-index walk: writes the
    gradient (and the 'none' loss), returns ``sums`` = (tile of loss sums, row sums) with it added.
    The tile's class offsets are 0 .. BLOCK_C - 1 from c0, so positives compare them with k - c0
    (one subtraction per row), and a tile inside [0, C) needs no class mask.  ROW_MASKED: rows not
    counted read their logits as 0 (not at all), their gradient scale is 0 and the kernel drops
    their loss per row, so no element of a tile is selected twice.

    NEGATIVES_FIRST: every element is taken as a negative, the row's class (and, unless ROW_MASKED,
    every logit of an uncounted row or outside [0, C)) as -inf: a sure negative whose loss and
    gradient are exactly 0 whatever the logit was (NaN too), so one select a logit is all the labels
    cost and the tile is one formula (``_index_positives`` then writes the positives over those 0s).
    The negative term is the same for the five losses (q = 0): the focal one with factor
    1 - alpha (or 1), VFL's and MAL's alpha * s ** gamma * sp(x) (factor alpha, gamma; MAL's weight
    detached), QFL's s ** beta * sp(x) (factor 1, beta), IA-BCE's s ** gamma * sp(x) (factor 1);
    ``negative_factors`` = (loss factor, gradient factor) unless alpha is per class."""
    b, s, row_mask, valid, k_class, score = rows
    x_rows, g_rows, loss_ptr, alpha_ptr, pos_weight_ptr, weight_ptr, q_ptr = pointers
    (
        stride_xc,
        stride_gb,
        stride_gc,
        stride_gs,
        stride_qb,
        stride_qc,
        stride_qs,
        stride_pwb,
        stride_pwc,
        stride_pws,
        stride_wb,
        stride_wc,
        stride_ws,
    ) = strides
    alpha, pw, gamma, label_smoothing, label_smoothing_remainder, scale, negative_factors, poly_epsilon = scalars
    total, row_total = sums
    offsets = class_offsets(BLOCK_C, WIDE_CLASS_OFFSETS)
    cls = c0 + offsets
    tile_mask = row_mask[:, None] & (cls < C)[None, :]
    load_mask = (valid[:, None] & tile_mask) if (ROW_MASKED or NEGATIVES_FIRST) else tile_mask
    raw_x = tl.load(
        x_rows[:, None] + cls[None, :] * stride_xc,
        mask=load_mask,
        other=-float("inf") if NEGATIVES_FIRST and not ROW_MASKED else 0.0,
    ).to(COMPUTE)
    if ALPHA_MODE == OPERAND_TENSOR:
        alpha = tl.load(alpha_ptr + cls, mask=cls < C, other=0.0).to(COMPUTE)[None, :]
    positive = offsets[None, :] == (k_class - c0)[:, None]
    if NEGATIVES_FIRST:
        if ALPHA_MODE == OPERAND_TENSOR:
            factor = (1.0 - alpha) if LOSS == FOCAL else alpha
            loss_factor, grad_factor = factor, factor * scale
        else:
            loss_factor, grad_factor = negative_factors
        loss, grad = hard_label_terms(
            tl.where(positive, -float("inf"), raw_x),
            False,
            loss_factor,
            grad_factor,
            gamma,
            poly_epsilon,
            GAMMA,
            ZERO_FACTOR,
            DETACH,
            POLY,
        )
    else:
        if POS_WEIGHT_MODE == OPERAND_TENSOR:
            pw = tl.load(
                pos_weight_ptr + b * stride_pwb + s[:, None] * stride_pws + cls[None, :] * stride_pwc,
                mask=tile_mask,
                other=0.0,
            ).to(COMPUTE)
        q = 0.0  # the focal loss reads its labels alone
        if TARGETS == TARGETS_DENSE:
            q = tl.load(
                q_ptr + b * stride_qb + s[:, None] * stride_qs + cls[None, :] * stride_qc, mask=tile_mask, other=0.0
            ).to(COMPUTE)
            positive = q > 0.0
        elif TARGETS == TARGETS_INDEX_SCORES:
            q = tl.where(positive, score[:, None], 0.0)
        loss, grad = binary_loss_terms(
            raw_x,
            positive,
            q,
            alpha,
            pw,
            label_smoothing,
            label_smoothing_remainder,
            gamma,
            scale,
            poly_epsilon,
            LOSS,
            DETACH,
            ALPHA_MODE != OPERAND_NONE,
            True,
            SMOOTHING,
            ACTIVATED,
            GAMMA,
            ZERO_FACTOR,
            POLY,
            COMPUTE,
        )
    if HAS_WEIGHT:
        weight = tl.load(
            weight_ptr + b * stride_wb + s[:, None] * stride_ws + cls[None, :] * stride_wc, mask=tile_mask, other=0.0
        ).to(COMPUTE)
        if NEGATIVES_FIRST:
            weight = tl.where(positive, 0.0, weight)  # even an inf: the positive's loss is _index_positives'
        loss = weight * loss
        grad = weight * grad
    keep = valid[:, None] & tile_mask
    if not (ROW_MASKED or (NEGATIVES_FIRST and not HAS_WEIGHT)):
        loss = tl.where(keep, loss, 0.0)
    if REDUCE:
        total += loss
    elif ROW_LOSS:
        row_total += tl.sum(loss, axis=1)
    else:
        tl.store(
            loss_ptr + b * stride_gb + s[:, None] * stride_gs + cls[None, :] * stride_gc,
            loss.to(loss_ptr.dtype.element_ty),
            mask=tile_mask,
        )
    if WRITE_GRAD:
        if not (ROW_MASKED or (NEGATIVES_FIRST and not HAS_WEIGHT)):
            grad = tl.where(keep, grad, 0.0)
        tl.store(g_rows[:, None] + cls[None, :] * stride_gc, grad.to(g_rows.dtype.element_ty), mask=tile_mask)
    return total, row_total


@triton.jit
def _index_positives(
    rows,
    pointers,
    strides,
    scalars,
    row_scale,
    LOSS: tl.constexpr,
    DETACH: tl.constexpr,
    ROW_LOSS: tl.constexpr,
    ALPHA_MODE: tl.constexpr,
    GAMMA: tl.constexpr,
    POS_WEIGHT_MODE: tl.constexpr,
    HAS_WEIGHT: tl.constexpr,
    ZERO_FACTOR: tl.constexpr,
    POLY: tl.constexpr,
    REDUCE: tl.constexpr,
    WRITE_GRAD: tl.constexpr,
    COMPUTE: tl.constexpr,
):
    """The loss of each counted row at its class (0 for a row without one), after NEGATIVES_FIRST
    tiles took that element as a negative of loss and gradient 0: its gradient (and 'none' loss)
    is written over the tiles' 0s, once the block's tile stores are done; returns the row losses."""
    b, s, row_mask, valid, k_class, score = rows
    x_rows, g_rows, loss_ptr, alpha_ptr, pos_weight_ptr, weight_ptr, q_ptr = pointers
    (
        stride_xc,
        stride_gb,
        stride_gc,
        stride_gs,
        stride_qb,
        stride_qc,
        stride_qs,
        stride_pwb,
        stride_pwc,
        stride_pws,
        stride_wb,
        stride_wc,
        stride_ws,
    ) = strides
    alpha, pw, gamma, label_smoothing, label_smoothing_remainder, scale, negative_factors, poly_epsilon = scalars
    has_class = valid & (k_class >= 0)
    k = tl.where(has_class, k_class, 0)
    x = tl.load(x_rows + k * stride_xc, mask=has_class, other=0.0).to(COMPUTE)
    if ALPHA_MODE == OPERAND_TENSOR:
        alpha = tl.load(alpha_ptr + k, mask=has_class, other=0.0).to(COMPUTE)
    if POS_WEIGHT_MODE == OPERAND_TENSOR:
        pw = tl.load(pos_weight_ptr + b * stride_pwb + s * stride_pws + k * stride_pwc, mask=has_class, other=0.0).to(
            COMPUTE
        )
    loss, grad = binary_loss_terms(
        x,
        has_class,
        score,
        alpha,
        pw,
        0.0,
        0.0,
        gamma,
        row_scale,
        poly_epsilon,
        LOSS,
        DETACH,
        ALPHA_MODE != OPERAND_NONE,
        True,
        False,
        False,
        GAMMA,
        ZERO_FACTOR,
        POLY,
        COMPUTE,
    )
    if HAS_WEIGHT:
        weight = tl.load(weight_ptr + b * stride_wb + s * stride_ws + k * stride_wc, mask=has_class, other=0.0).to(
            COMPUTE
        )
        loss = weight * loss
        grad = weight * grad
    loss = tl.where(has_class, loss, 0.0)
    if WRITE_GRAD or not (REDUCE or ROW_LOSS):
        tl.debug_barrier()  # the tiles' stores of this block land first
    if not (REDUCE or ROW_LOSS):
        tl.store(
            loss_ptr + b * stride_gb + s * stride_gs + k * stride_gc, loss.to(loss_ptr.dtype.element_ty), mask=has_class
        )
    if WRITE_GRAD:
        tl.store(g_rows + k * stride_gc, grad.to(g_rows.dtype.element_ty), mask=has_class)
    return loss


# The weight's row stride is not specialised: a per-row weight broadcast over the classes has
# stride 1 there, and compiled as the constant 1 its tile load is vectorised along the rows, across
# the tile's class-major layout, and converted through shared memory (sm_90, (N, 80) rows: 80 -> 112
# registers and 40.2 -> 48.5 SASS a logit for float32 logits, 16 -> 12 warps per SM for bfloat16).
@triton.jit(do_not_specialize=["stride_ws"])
def sigmoid_focal_index_fwd_kernel(
    # ---- pointers
    x_ptr,
    t_ptr,  # class indices, one per row; C or any value outside [0, C) = background
    loss_ptr,  # out: loss per element, laid out as the gradient (REDUCE False)
    partial_ptr,  # out: one partial sum per program (REDUCE True)
    grad_ptr,  # out: dL/dx (WRITE_GRAD)
    denominator_ptr,  # DENOMINATOR COUNT / TENSOR: the device tensor, 0-d or one a b (see reduce.load_denominator)
    alpha_ptr,  # ALPHA_MODE == OPERAND_TENSOR: C per-class alpha values, contiguous
    pos_weight_ptr,  # POS_WEIGHT_MODE == OPERAND_TENSOR: pos_weight broadcast to the logits, (b, c, s) strides
    weight_ptr,  # weight broadcast to the logits, (b, c, s) strides; None: no weight
    score_ptr,  # TARGETS_INDEX_SCORES: one score per row, the target at the row's class
    q_ptr,  # TARGETS_DENSE: targets of the logits' shape, (b, c, s) strides
    # ---- sizes and strides
    S,
    C: tl.constexpr,  # the class count, compiled in: the class tiles unroll, a tile that divides C needs no mask
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
    stride_pwb,
    stride_pwc,
    stride_pws,
    stride_wb,
    stride_wc,
    stride_ws,
    # ---- scalars (each float with its float64 remainder, stable_math.float64_scalar)
    alpha,
    alpha_remainder,
    gamma,
    gamma_remainder,
    pos_weight,
    pos_weight_remainder,
    label_smoothing,
    label_smoothing_remainder,
    poly_epsilon,
    poly_epsilon_remainder,
    denominator,
    denominator_remainder,
    ignore_index: tl.int64,
    # ---- meta-parameters: the loss and its options
    LOSS: tl.constexpr,  # FOCAL, VARIFOCAL, QUALITY_FOCAL or MATCHABILITY_AWARE (quality_focal.py)
    TARGETS: tl.constexpr,  # TARGETS_INDEX, TARGETS_INDEX_SCORES or TARGETS_DENSE (class_walk.py)
    DETACH: tl.constexpr,  # no gradient through the weight alpha * s ** gamma (VARIFOCAL's choice, MAL's rule)
    ROW_LOSS: tl.constexpr,  # 'none' gives each row's sum over its classes (QFL), not each element's loss
    GAMMA: tl.constexpr,  # gamma at compile time: 0, 1, 2, or ANY_GAMMA (see stable_math.focal_power)
    SMOOTHING: tl.constexpr,
    ACTIVATED: tl.constexpr,
    ZERO_FACTOR: tl.constexpr,  # alpha_t * pos_weight can be 0 (see hard_label_terms)
    POLY: tl.constexpr,  # the focal loss with the Poly-1 term (poly_epsilon != 0)
    # ---- meta-parameters: outputs, precision, layout, tile
    DENOMINATOR: tl.constexpr,  # reduce.DENOMINATOR_*
    DENOMINATOR_PER_SET: tl.constexpr,  # stacked sets, the batches b: one denominator a b, at denominator_ptr + b
    REDUCE: tl.constexpr,
    WRITE_GRAD: tl.constexpr,
    COMPUTE: tl.constexpr,
    WIDE_CLASS_OFFSETS: tl.constexpr,  # class * stride_c can pass 2**31: 64-bit class offsets
    ROWS_OF_C: tl.constexpr,  # rows of C contiguous classes: row offsets s * C (class_walk.row_starts)
    BLOCK_S: tl.constexpr,
    BLOCK_C: tl.constexpr,
):
    """A binary loss of every (row, class): the focal loss against the implicit one-hot of the row's
    index, or VFL / QFL against the row's score at its class (or against dense targets).  The class
    tiles unroll for up to UNROLLED_CLASS_TILES narrow ones (C is compiled in), else they loop."""
    # a factor's mode follows from what the launcher passed (None: absent)
    ALPHA_MODE: tl.constexpr = operand_mode(alpha_ptr is not None, alpha is not None)
    POS_WEIGHT_MODE: tl.constexpr = operand_mode(pos_weight_ptr is not None, pos_weight is not None)
    # the launchers' combinations: class indices are the focal loss's, (index, score) rows and dense
    # targets VFL's and QFL's (QFL with one loss a row), the focal options the focal loss's
    tl.static_assert((LOSS == FOCAL) == (TARGETS == TARGETS_INDEX))
    tl.static_assert((LOSS == QUALITY_FOCAL) == ROW_LOSS)
    tl.static_assert(LOSS == VARIFOCAL or (LOSS == MATCHABILITY_AWARE) == DETACH)  # MAL: always detached
    tl.static_assert(LOSS == FOCAL or not (SMOOTHING or POS_WEIGHT_MODE != OPERAND_NONE))
    tl.static_assert(not (ACTIVATED and POS_WEIGHT_MODE != OPERAND_NONE))
    tl.static_assert(LOSS == FOCAL or not POLY)
    HAS_WEIGHT: tl.constexpr = weight_ptr is not None
    pid = tl.program_id(0)
    alpha = float64_scalar(alpha, alpha_remainder, COMPUTE)
    gamma = float64_scalar(gamma, gamma_remainder, COMPUTE)
    b, s, row_mask = class_rows(pid, S, n_s_blocks, BLOCK_S)
    if TARGETS == TARGETS_DENSE:
        k = tl.full((BLOCK_S,), -1, tl.int64)  # no class index: nothing is ignored
        valid = row_mask
    else:
        k = tl.load(t_ptr + b * S + s, mask=row_mask, other=0).to(tl.int64)
        valid = row_mask & (k != ignore_index)
    # the row's class in the class offsets' width (-1: none of the C classes), compared once a logit
    k_class = tl.where((k >= 0) & (k < C), k, -1).to(class_offsets(BLOCK_C, WIDE_CLASS_OFFSETS).dtype)
    score = 0.0
    if TARGETS == TARGETS_INDEX_SCORES:
        score = tl.load(score_ptr + b * S + s, mask=row_mask, other=0.0).to(COMPUTE)
    pw = 1.0
    if POS_WEIGHT_MODE == OPERAND_SCALAR:
        pw = float64_scalar(pos_weight, pos_weight_remainder, COMPUTE)
    rows = (b, s, row_mask, valid, k_class, score)
    x_rows, g_rows = row_starts(x_ptr, grad_ptr, b, s, stride_xb, stride_xs, stride_gb, stride_gs, C, ROWS_OF_C)
    pointers = (x_rows, g_rows, loss_ptr, alpha_ptr, pos_weight_ptr, weight_ptr, q_ptr)
    strides = (
        stride_xc,
        stride_gb,
        stride_gc,
        stride_gs,
        stride_qb,
        stride_qc,
        stride_qs,
        stride_pwb,
        stride_pwc,
        stride_pws,
        stride_wb,
        stride_wc,
        stride_ws,
    )
    # hard labels over rows of C contiguous classes: the tiles take every element as a negative
    # (_index_tile), the positives follow once a row
    NEGATIVES_FIRST: tl.constexpr = (
        TARGETS != TARGETS_DENSE and not (SMOOTHING or ACTIVATED) and ROWS_OF_C and C >= NEGATIVES_FIRST_CLASSES
    )
    # 'mean' / 'sum' over whole class tiles: uncounted rows masked once a row (_index_tile)
    ROW_MASKED: tl.constexpr = (LOSS == FOCAL or NEGATIVES_FIRST) and REDUCE and C % BLOCK_C == 0
    if DENOMINATOR_PER_SET:
        denominator_ptr += b
    scale = gradient_scale(denominator_ptr, denominator, denominator_remainder, DENOMINATOR, COMPUTE)
    row_scale = tl.where(valid, scale, 0.0)
    if ROW_MASKED or NEGATIVES_FIRST:
        scale = row_scale[:, None]
    # the negatives' factor, when it is one number not 0 and their losses are summed, multiplies
    # their row sums once instead of each loss
    negative = (1.0 - alpha) if LOSS == FOCAL else (1.0 if LOSS == QUALITY_FOCAL or LOSS == IA_BCE else alpha)
    FACTOR_IN_SUMS: tl.constexpr = (
        NEGATIVES_FIRST and (REDUCE or ROW_LOSS) and ALPHA_MODE != OPERAND_TENSOR and not ZERO_FACTOR
    )
    negative_factors = (1.0 if FACTOR_IN_SUMS else negative, negative * scale)
    poly_epsilon = float64_scalar(poly_epsilon, poly_epsilon_remainder, COMPUTE)
    scalars = (alpha, pw, gamma, label_smoothing, label_smoothing_remainder, scale, negative_factors, poly_epsilon)
    sums = (tl.zeros((BLOCK_S, BLOCK_C), COMPUTE), tl.zeros((BLOCK_S,), COMPUTE))
    if C <= UNROLLED_CLASS_TILES * BLOCK_C and BLOCK_C <= UNROLLED_TILE_WIDTH:
        for c0 in tl.static_range(0, C, BLOCK_C):
            sums = _index_tile(
                c0,
                sums,
                rows,
                pointers,
                strides,
                scalars,
                C,
                LOSS,
                TARGETS,
                DETACH,
                ROW_LOSS,
                ALPHA_MODE,
                GAMMA,
                POS_WEIGHT_MODE,
                HAS_WEIGHT,
                SMOOTHING,
                ACTIVATED,
                ZERO_FACTOR,
                POLY,
                REDUCE,
                WRITE_GRAD,
                COMPUTE,
                WIDE_CLASS_OFFSETS,
                ROW_MASKED,
                NEGATIVES_FIRST,
                BLOCK_S,
                BLOCK_C,
            )
    else:
        for c0 in range(0, C, BLOCK_C):
            sums = _index_tile(
                c0,
                sums,
                rows,
                pointers,
                strides,
                scalars,
                C,
                LOSS,
                TARGETS,
                DETACH,
                ROW_LOSS,
                ALPHA_MODE,
                GAMMA,
                POS_WEIGHT_MODE,
                HAS_WEIGHT,
                SMOOTHING,
                ACTIVATED,
                ZERO_FACTOR,
                POLY,
                REDUCE,
                WRITE_GRAD,
                COMPUTE,
                WIDE_CLASS_OFFSETS,
                ROW_MASKED,
                NEGATIVES_FIRST,
                BLOCK_S,
                BLOCK_C,
            )
    total, row_total = sums
    positives = 0.0
    if NEGATIVES_FIRST:
        positives = _index_positives(
            rows,
            pointers,
            strides,
            scalars,
            row_scale,
            LOSS,
            DETACH,
            ROW_LOSS,
            ALPHA_MODE,
            GAMMA,
            POS_WEIGHT_MODE,
            HAS_WEIGHT,
            ZERO_FACTOR,
            POLY,
            REDUCE,
            WRITE_GRAD,
            COMPUTE,
        )
    if FACTOR_IN_SUMS:
        total *= negative
        row_total *= negative
    if REDUCE:
        row_sums = tl.sum(total, axis=1) + positives
        if ROW_MASKED:
            row_sums = tl.where(valid, row_sums, 0.0)
        tl.store(partial_ptr + pid, tl.sum(row_sums, axis=0))
    elif ROW_LOSS:
        tl.store(loss_ptr + b * S + s, (row_total + positives).to(loss_ptr.dtype.element_ty), mask=row_mask)


def sigmoid_focal_bytes_per_element(logit_bytes, target_bytes, reduce, write_grad, grad_bytes=None, operand_bytes=0):
    """Bytes an ideal kernel moves per element: read x and t (and ``operand_bytes`` of weight,
    pos_weight or per-element alpha read beside them: 4 for a float32 weight of the logits' shape, ~0
    for a broadcast one), write the loss ('none') and the gradient (when it is needed,
    ``grad_bytes`` each, default the logits' size); the per-chunk partials are negligible."""
    grad_bytes = logit_bytes if grad_bytes is None else grad_bytes
    reads = logit_bytes + target_bytes + operand_bytes
    return reads + (0 if reduce else logit_bytes) + (grad_bytes if write_grad else 0)


def sigmoid_focal_index_bytes_per_element(logit_bytes, reduce, write_grad=True, operand_bytes=0):
    """Ideal bytes per logit of the class-index sigmoid kernel: read x (and ``operand_bytes`` of
    operands of the logits' shape), write the gradient (when it is needed) and the loss ('none');
    targets and per-row weights are per row."""
    return logit_bytes * (1 + (0 if reduce else 1) + (1 if write_grad else 0)) + operand_bytes
