"""Numerically stable scalar helpers shared by the focal-loss kernels.

Only core ``tl`` math is used (``libdevice`` does not run under the Triton
interpreter).  Every helper is finite for every finite input.
"""

import triton
import triton.language as tl


@triton.jit
def log1p(e):
    # Goldberg's trick: log(1 + e) * e / ((1 + e) - 1) recovers the bits that
    # rounding 1 + e threw away, so log1p(e) ~= e stays exact for tiny e.
    u = 1.0 + e
    rounded = u == 1.0
    return tl.where(rounded, e, tl.log(u) * (e / tl.where(rounded, 1.0, u - 1.0)))


@triton.jit
def softplus(z):
    # softplus(z) = log(1 + exp(z)) = max(z, 0) + log1p(exp(-|z|)); exp never overflows.
    return tl.maximum(z, 0.0) + log1p(tl.exp(-tl.abs(z)))


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
