"""Numerically stable scalar helpers shared by the focal-loss kernels.

Only core ``tl`` math is used (``libdevice`` does not run under the Triton
interpreter).  Every helper is finite for every finite input.
"""

import triton
import triton.language as tl


@triton.jit
def sigmoid_parts(x):
    """(log1p(exp(-|x|)), sigmoid(x), 1 - sigmoid(x)) from one exp, one reciprocal and one log.

    With e = exp(-|x|) <= 1 and r = 1 / (1 + e): the larger of p and q is r and
    the smaller is e * r, so neither is formed as 1 - (something near 1).
    softplus(x) = max(x, 0) + log1p(e) and softplus(-x) = max(-x, 0) + log1p(e).
    """
    e = tl.exp(-tl.abs(x))
    u = 1.0 + e
    r = 1.0 / u
    # log1p(e) = log(u) - (u - 1 - e) / u: the second term puts back what rounding
    # 1 + e lost, so tiny e gives log1p(e) = e instead of 0.
    log1p_e = tl.log(u) - ((u - 1.0) - e) * r
    smaller = e * r
    positive = x >= 0.0
    return log1p_e, tl.where(positive, r, smaller), tl.where(positive, smaller, r)


@triton.jit
def pow_or_one(base, gamma):
    # base ** gamma for base >= 0 (NaN stays NaN), with 0 ** gamma = 0 for
    # gamma > 0 and 0 ** 0 = 1; log2(0) is never formed, so exp2(0 * -inf) = NaN cannot occur.
    nonzero = base != 0.0
    powered = tl.exp2(gamma * tl.log2(tl.where(nonzero, base, 1.0)))
    return tl.where(nonzero, powered, tl.where(gamma == 0.0, 1.0, 0.0))


@triton.jit
def ratio_or_zero(numerator, denominator):
    # numerator / denominator, and 0 where the denominator is 0 (never divides by 0).
    nonzero = denominator != 0.0
    return tl.where(nonzero, numerator / tl.where(nonzero, denominator, 1.0), 0.0)
