"""The element terms of the focal-loss family of today's detectors, for the binary kernels of
``sigmoid_focal`` (their LOSS constexpr): varifocal loss (VFL: VarifocalNet, RT-DETR, D-FINE,
PP-YOLOE, YOLOv6), quality focal loss (QFL: GFL, RTMDet, NanoDet, TOOD), the matchability-aware
loss (MAL: DEIM) and the IoU-aware BCE (IA-BCE: RF-DETR, LW-DETR).

Notation: x logit, s = sigmoid(x), q or y the soft target (an IoU at the assigned class, 0
elsewhere), sp = softplus, BCE(x, q) = (1 - q) sp(x) + q sp(-x) with dBCE/dx = s - q.

Varifocal (Zhang et al. 2021), with "positive" the assigned class (class-index targets) or q > 0
(dense targets, mmdet):

    w     = q                        (positive)
          = alpha * s ** gamma       (negative)
    loss  = w * BCE(x, q)
    dL/dx = w * (s - q) + [negative, not detached] alpha * gamma * s ** gamma * (1 - s) * BCE

since d(s ** gamma)/dx = gamma * s ** gamma * (1 - s); s ** gamma = exp(-gamma * sp(-x)) is formed
without a logarithm.  ``DETACH`` drops the second term (RT-DETR / D-FINE detach the weight).

Matchability-aware (Huang et al. 2025, DEIM), the weight always detached (DETACH):

    t     = q ** gamma,  w = 1       (positive: the matched class, even at q = 0)
    t     = 0,  w = alpha * s ** gamma  (negative)
    loss  = w * BCE(x, t)
    dL/dx = w * (s - t)

IoU-aware BCE (RF-DETR's ``ia_bce_loss``), the target detached, the negatives' weight not:

    t     = max(s ** alpha * q ** (1 - alpha), 0.01)  (positive, detached)
    loss  = BCE(x, t),             dL/dx = s - t
    loss  = s ** gamma * sp(x),    dL/dx = s ** gamma * s + gamma * s ** gamma * (1 - s) * sp(x)  (negative)

with s ** alpha = exp(-alpha * sp(-x)), formed without a logarithm.

Quality focal (Li et al. 2020), one formula for every element (y = 0 off the assigned class):

    d     = s - y,  w = |d| ** beta
    loss  = w * BCE(x, y)
    dL/dx = w * d + beta * BCE * s (1 - s) * sign(d) |d| ** (beta - 1)

with sign(d) |d| ** (beta - 1) = w / d taken as 0 where d = 0 (the cusp of beta < 1), so the
gradient is finite for every beta >= 0.  The second term is formed as beta * (BCE w / d) * s (1 - s)
for a general beta: BCE w / d stays below BCE / d, near 1, where a confident logit makes BCE and d
tiny together (x = -89 at y = 0: BCE ~ d ~ 2e-39), where 1 / d alone would overflow and meet a 0
(BCE w underflows only where the term itself is below float32's range); for beta 0, 1 and 2
(compiled in) w / d is 0, sign(d) and d.  With probabilities (``activated``) BCE and its
derivative are ``F.binary_cross_entropy``'s (stable_math.probability_bce) and d = p - y.
"""

import triton
import triton.language as tl

from .stable_math import (
    ANY_GAMMA,
    BIG,
    LOG2E,
    focal_power,
    pow_or_one,
    probability_bce,
    ratio_or_zero,
    sigmoid_softplus,
)

# LOSS, the binary kernels' loss constexpr
FOCAL = tl.constexpr(0)
VARIFOCAL = tl.constexpr(1)
QUALITY_FOCAL = tl.constexpr(2)
MATCHABILITY_AWARE = tl.constexpr(3)
IA_BCE = tl.constexpr(4)


@triton.jit
def _sigmoid_bce(x, q):
    """(s, 1 - s, BCE(x, q), s - q, -log s) for a logit x (+-inf too) and a target q, without
    cancellation.  An infinite logit makes one softplus inf: each BCE term is taken as max(term, 0),
    whose NaN (0 * inf, a target of exactly 0 or 1) is 0 (IEEE maxNum), and an inf left is the true
    BCE; a NaN logit stays NaN through s."""
    s, one_minus_s, sp_pos, sp_neg = sigmoid_softplus(x)
    bce = tl.maximum((1.0 - q) * sp_pos, 0.0) + tl.maximum(q * sp_neg, 0.0)
    return s, one_minus_s, bce, (1.0 - q) * s - q * one_minus_s, sp_neg


@triton.jit
def _sigmoid_power(s, sp_neg, gamma, GAMMA: tl.constexpr):
    """s ** gamma: by multiplication for GAMMA 0, 1, 2, else exp(-gamma * softplus(-x)) (one ex2)."""
    if GAMMA == ANY_GAMMA:
        return tl.exp2(sp_neg * gamma * -LOG2E)
    else:
        return focal_power(s, gamma, GAMMA)


@triton.jit
def varifocal_terms(x, q, positive, alpha, gamma, DETACH: tl.constexpr, GAMMA: tl.constexpr):
    """(loss, dL/dx) of the varifocal loss (module docstring)."""
    s, one_minus_s, bce, s_minus_q, sp_neg = _sigmoid_bce(x, q)
    s_pow = _sigmoid_power(s, sp_neg, gamma, GAMMA)
    w = tl.where(positive, q, alpha * s_pow)
    grad = w * s_minus_q
    if not DETACH:  # BCE capped at 3e38: 1 - s is 0 where it is inf
        grad += tl.where(positive, 0.0, alpha * gamma * s_pow * (one_minus_s * tl.minimum(bce, BIG)))
    return tl.where(w == 0.0, 0.0, w * bce), grad


@triton.jit
def matchability_aware_terms(x, q, positive, alpha, gamma, GAMMA: tl.constexpr):
    """(loss, dL/dx) of the matchability-aware loss (module docstring); q ** gamma is 0 at q = 0."""
    t = tl.where(positive, focal_power(q, gamma, GAMMA), 0.0)
    s, one_minus_s, bce, s_minus_t, sp_neg = _sigmoid_bce(x, t)
    s_pow = _sigmoid_power(s, sp_neg, gamma, GAMMA)
    w = tl.where(positive, 1.0, alpha * s_pow)
    return tl.where(w == 0.0, 0.0, w * bce), w * s_minus_t


@triton.jit
def ia_bce_terms(x, q, positive, alpha, gamma, GAMMA: tl.constexpr):
    """(loss, dL/dx) of the IoU-aware BCE (module docstring)."""
    s, one_minus_s, sp_pos, sp_neg = sigmoid_softplus(x)  # sp_pos = BCE(x, 0)
    t = tl.maximum(tl.exp2(sp_neg * alpha * -LOG2E) * pow_or_one(q, 1.0 - alpha), 0.01)
    bce_t = tl.maximum((1.0 - t) * sp_pos, 0.0) + tl.maximum(t * sp_neg, 0.0)  # an inf term alone stays inf
    s_pow = _sigmoid_power(s, sp_neg, gamma, GAMMA)
    negative_loss = tl.where(s_pow == 0.0, 0.0, s_pow * sp_pos)
    negative_grad = s_pow * s + gamma * s_pow * (one_minus_s * tl.minimum(sp_pos, BIG))  # 1 - s is 0 where sp is inf
    loss = tl.where(positive, bce_t, negative_loss)
    return loss, tl.where(positive, (1.0 - t) * s - t * one_minus_s, negative_grad)


@triton.jit
def quality_focal_terms(x, y, beta, BETA: tl.constexpr, ACTIVATED: tl.constexpr):
    """(loss, dL/dx) of the quality focal loss (module docstring); with ACTIVATED x holds
    probabilities and the gradient is dL/dp."""
    if ACTIVATED:
        bce, dbce = probability_bce(x, y)
        d = x - y
        slope = 1.0  # dp/dp
    else:
        s, one_minus_s, bce, d, _ = _sigmoid_bce(x, y)
        dbce = d
        slope = s * one_minus_s  # ds/dx
    loss_bce = bce
    bce = tl.minimum(bce, BIG)  # for the gradient: s (1 - s) is 0 where BCE is inf
    w = focal_power(tl.abs(d), beta, BETA)
    loss = tl.where(w == 0.0, 0.0, w * loss_bce)  # 0, not 0 * inf
    if BETA == 0:
        return loss, w * dbce
    if BETA == 2:
        focus = (bce * slope) * d  # w / d = d
    elif BETA == 1:
        focus = (bce * slope) * tl.where(d > 0.0, 1.0, tl.where(d < 0.0, -1.0, 0.0))  # w / d = sign(d)
    else:
        focus = ratio_or_zero(bce * w, d) * slope
    return loss, w * dbce + beta * focus


@triton.jit
def quality_terms(
    raw_x,
    q,
    positive,
    alpha,
    gamma,
    LOSS: tl.constexpr,
    DETACH: tl.constexpr,
    ACTIVATED: tl.constexpr,
    GAMMA: tl.constexpr,
):
    """(loss, dL/dx) of VFL, QFL, MAL or IA-BCE (``LOSS``) with the kernels' conventions: a loss that truly is
    infinite (an infinite logit on the wrong side of its target) is inf, and a target (with
    ACTIVATED, a probability) outside [0, 1] gives NaN loss and gradient.  ``gamma`` is QFL's beta."""
    if ACTIVATED:
        loss, grad = quality_focal_terms(raw_x, q, gamma, GAMMA, True)
        outside = (
            (q < 0.0) | (q > 1.0) | (raw_x < 0.0) | (raw_x > 1.0) | (raw_x != raw_x)
        )  # the clamped logs hide a NaN
        nan = tl.where(outside, float("nan"), 0.0)
        return loss + nan, grad + nan
    q = tl.where((q < 0.0) | (q > 1.0), float("nan"), q)  # NaN from here to loss and gradient
    if LOSS == VARIFOCAL:
        return varifocal_terms(raw_x, q, positive, alpha, gamma, DETACH, GAMMA)
    elif LOSS == MATCHABILITY_AWARE:
        return matchability_aware_terms(raw_x, q, positive, alpha, gamma, GAMMA)
    elif LOSS == IA_BCE:
        return ia_bce_terms(raw_x, q, positive, alpha, gamma, GAMMA)
    else:
        return quality_focal_terms(raw_x, q, gamma, GAMMA, False)
