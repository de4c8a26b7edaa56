"""Numerically stable element-wise helpers shared by the focal-loss kernels.

Core ``tl`` math only (``libdevice`` does not run under the Triton
interpreter); every helper is finite for every finite input and keeps NaN.
Triton lowers ``tl.log`` / ``tl.log2`` to a precise software routine of about
35 instructions, which would make these memory-bound kernels compute-bound,
so the float32 paths avoid it: ``log1p_unit`` is a short series and
``log2_approx`` is the hardware ``lg2.approx`` instruction on the GPU.
"""

import os

import triton
import triton.language as tl

LOG2E = tl.constexpr(1.4426950408889634)  # log2(e): exp(y) = exp2(y * LOG2E)


@triton.jit
def log1p_unit(e):
    """log(1 + e) for e in [0, 1], relatively accurate (float32: within 2.2e-7, measured).

    log1p(e) = 2 atanh(s) = 2 s (1 + s^2/3 + s^4/5 + ...), s = e / (2 + e) <= 1/3;
    seven terms reach float32 precision.  float64 uses log(u) - (u - 1 - e) / u,
    u = 1 + e, which puts back what rounding 1 + e lost.
    """
    if e.dtype == tl.float64:
        u = 1.0 + e
        return tl.log(u) - ((u - 1.0) - e) / u
    s = e / (2.0 + e)
    s2 = s * s
    poly = 1.0 / 13.0
    poly = poly * s2 + 1.0 / 11.0
    poly = poly * s2 + 1.0 / 9.0
    poly = poly * s2 + 1.0 / 7.0
    poly = poly * s2 + 1.0 / 5.0
    poly = poly * s2 + 1.0 / 3.0
    poly = poly * s2 + 1.0
    return 2.0 * s * poly


if os.environ.get("TRITON_INTERPRET", "0") == "1":

    @triton.jit
    def log2_approx(x):
        """log2(x); the interpreter's NumPy log2."""
        return tl.log2(x)

else:

    @triton.jit
    def log2_approx(x):
        """log2(x): float32 through the GPU's lg2.approx (absolute error about 2**-22), float64 precise."""
        if x.dtype == tl.float32:
            return tl.inline_asm_elementwise(
                "lg2.approx.f32 $0, $1;", "=r,r", [x], dtype=tl.float32, is_pure=True, pack=1
            )
        else:
            return tl.log2(x)


@triton.jit
def sigmoid_parts(x):
    """(exp(-|x|), 1 / (1 + exp(-|x|)), log1p(exp(-|x|))): one exp and one reciprocal.

    With e = exp(-|x|) <= 1 and r = 1 / (1 + e), sigmoid(|x|) = r and
    sigmoid(-|x|) = e * r, so neither p nor 1 - p is formed as 1 - (something
    near 1); softplus(+-x) = max(+-x, 0) + log1p(e).
    """
    e = tl.exp(-tl.abs(x))
    r = 1.0 / (1.0 + e)
    return e, r, log1p_unit(e)


@triton.jit
def pow_or_one(base, gamma):
    # base ** gamma for base >= 0 (NaN stays NaN), with 0 ** gamma = 0 for
    # gamma > 0 and 0 ** 0 = 1; log2(0) is never formed, so exp2(0 * -inf) = NaN cannot occur.
    nonzero = base != 0.0
    powered = tl.exp2(gamma * log2_approx(tl.where(nonzero, base, 1.0)))
    return tl.where(nonzero, powered, tl.where(gamma == 0.0, 1.0, 0.0))


# GAMMA, the compile-time form of gamma that focal_power specialises: 0, 1 or 2, or
# ANY_GAMMA for any other value (the launcher picks it: _kernel_args.gamma_constexpr).
ANY_GAMMA = tl.constexpr(-1)


@triton.jit
def focal_power(base, gamma, GAMMA: tl.constexpr):
    """base ** gamma for base = 1 - p_t in [0, 1]: by multiplication for GAMMA 0, 1, 2 (no exp2 /
    log2), else ``pow_or_one``."""
    if GAMMA == 2:
        return base * base
    elif GAMMA == 1:
        return base
    elif GAMMA == 0:
        return tl.full(base.shape, 1.0, base.dtype)
    else:
        return pow_or_one(base, gamma)


@triton.jit
def ratio_or_zero(numerator, denominator):
    # numerator / denominator, and 0 where the denominator is 0 (never divides by 0).
    nonzero = denominator != 0.0
    return tl.where(nonzero, numerator / tl.where(nonzero, denominator, 1.0), 0.0)


@triton.jit
def expm1(u):
    """exp(u) - 1 without cancellation near 0: a Taylor series for small |u|, exp(u) - 1 beyond.

    float32: 8 terms below |u| = 0.25 (truncation < 1e-11 relative); float64:
    3 terms below |u| = 1e-5 (truncation < 1e-16).
    """
    if u.dtype == tl.float64:
        series = u * (1.0 + u * (0.5 + u * (1.0 / 6.0)))
        small = tl.abs(u) < 1e-5
    else:
        poly = 1.0 / 40320.0
        poly = poly * u + 1.0 / 5040.0
        poly = poly * u + 1.0 / 720.0
        poly = poly * u + 1.0 / 120.0
        poly = poly * u + 1.0 / 24.0
        poly = poly * u + 1.0 / 6.0
        poly = poly * u + 0.5
        series = u * (1.0 + u * poly)
        small = tl.abs(u) < 0.25
    return tl.where(small, series, tl.exp(u) - 1.0)


@triton.jit
def clamp_infinities(x):
    """+-inf -> +-3e38 (finite; NaN stays NaN).  Every probability, weight and
    gradient term has reached its limit long before |x| = 3e38, so a clamped
    logit gives the limit values; only a loss that truly is infinite comes out
    as a huge finite number, which the kernel then sets to inf."""
    big = 3.0e38
    return tl.where(x > big, big, tl.where(x < -big, -big, x))


@triton.jit
def clamp_positive_infinity(x):
    """+inf -> 3e38 for the softmax: -inf logits (masked classes) are exact as they are,
    a +inf logit takes the whole probability like any logit far above the others."""
    return tl.where(x > 3.0e38, 3.0e38, x)


@triton.jit
def float64_scalar(value, remainder, COMPUTE: tl.constexpr):
    """A float scalar argument in COMPUTE precision.  Triton passes Python floats as float32,
    so the launcher sends a float64 number as ``value`` (its float32 rounding) and
    ``remainder`` (exact - value): their sum in float64 is within 2**-48 of the number;
    float32 math takes ``value`` alone."""
    if COMPUTE == tl.float64:
        return tl.cast(value, tl.float64) + tl.cast(remainder, tl.float64)
    else:
        return tl.cast(value, tl.float32)


@triton.jit
def log1m(p):
    """log(1 - p) with relative precision for every p in [0, 1] (p = 1e-8 gives -1e-8, not 0):
    u = 1 - p rounds, and log(u) * (-p) / (u - 1) puts back what the rounding lost (Goldberg 1991,
    "What every computer scientist should know about floating-point arithmetic", theorem 4: within
    a few ulps); -p where u rounds to 1, -inf at p = 1."""
    u = 1.0 - p
    exact = u == 1.0
    return tl.where(exact, -p, tl.log(u) * (-p / tl.where(exact, -1.0, u - 1.0)))


@triton.jit
def probability_bce(p, t):
    """(BCE, dBCE/dp) of probabilities p against targets t as ``F.binary_cross_entropy`` computes
    them: logs clamped to >= -100, and its backward's (p - t) / max(p (1 - p), 1e-12).  Precise
    ``tl.log``: two logarithms per element, the price of probability inputs."""
    log_p = tl.maximum(tl.log(p), -100.0)
    log_q = tl.maximum(log1m(p), -100.0)
    ce = -(t * log_p + (1.0 - t) * log_q)
    return ce, (p - t) / tl.maximum(p * (1.0 - p), 1.0e-12)
