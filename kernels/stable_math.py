"""Numerically stable element-wise helpers shared by the focal-loss kernels.

Every helper is finite for every finite input and keeps NaN.  The float32 paths use the GPU's
approximate special-function instructions through ``tl.inline_asm_elementwise``: Triton lowers
``tl.exp`` to ``ex2.approx`` plus a subnormal range fix, ``1 / x`` to a checked divide and
``tl.log`` to a software routine of ~35 instructions, which would make these memory-bound
kernels issue-bound.  Under the Triton interpreter (no inline assembly there) each
approximation is the exact NumPy function with the hardware's flush of subnormals, and
``EMULATED_ERROR_SIGN`` (0, or +-1 in the accuracy tests) moves it by its documented worst
case, so the interpreter runs the kernels' formulas at the hardware's worst error.

Documented worst cases (PTX ISA, "Floating-point instructions"; the bounds the tests emulate):

    ex2.approx.ftz.f32   2 ** x      relative error <= 2 ** -22; results below 2 ** -126 flush to 0
    rcp.approx.ftz.f32   1 / x       relative error <= 2 ** -23 (1 ulp); subnormal x flushes to +-0
    lg2.approx.f32       log2(x)     absolute error <= 2 ** -22 (2 ** -22.6 documented for x in [0.5, 2])
    log1p_unit           log1p(e)    relative error <= 1.6e-6 on [0, 1] (minimax, float32 Horner; measured)

float64 math takes the precise core ``tl`` functions everywhere.
"""

import os

import triton
import triton.language as tl

from . import limits

LOG2E = tl.constexpr(1.4426950408889634)  # log2(e): exp(y) = exp2(y * LOG2E)
LN2 = tl.constexpr(0.6931471805599453)  # ln(2): log(y) = log2(y) * LN2
FLOAT32_TINY = tl.constexpr(1.1754943508222875e-38)  # 2 ** -126, the smallest normal float32
BIG = tl.constexpr(limits.BIG)  # the finite stand-in for an infinite term (limits.py)
CLAMPED_LOG_P = tl.constexpr(limits.CLAMPED_LOG_P)  # below it: a log p from a logit clamped to BIG

# The worst cases the interpreter emulates (see the module docstring).
EX2_RELATIVE_ERROR = tl.constexpr(2.0**-22)
RCP_RELATIVE_ERROR = tl.constexpr(2.0**-23)
LG2_ABSOLUTE_ERROR = tl.constexpr(2.0**-22)
EMULATED_ERROR_SIGN = 0.0  # interpreter only: the accuracy tests set +-1


@triton.jit
def log1p_unit(e):
    """log(1 + e) for e in [0, 1], relatively accurate: float32 e * Q(e), Q the degree-6 minimax
    polynomial of log1p(e) / e with Q(0) = 1 exactly (1.6e-6 relative in float32 Horner, measured
    over 2e6 points; e = 1e-30 gives 1e-30; six FFMA, the product fuses into softplus's addition).
    float64 uses log(u) - (u - 1 - e) / u, u = 1 + e, which puts back what rounding 1 + e lost."""
    if e.dtype == tl.float64:
        u = 1.0 + e
        return tl.log(u) - ((u - 1.0) - e) / u
    q = 0.014588288962841034
    q = q * e - 0.06785112619400024
    q = q * e + 0.1510276198387146
    q = q * e - 0.23611339926719666
    q = q * e + 0.33140426874160767
    q = q * e - 0.4999074637889862
    q = q * e + 1.0
    return e * q


if os.environ.get("TRITON_INTERPRET", "0") == "1":

    @triton.jit
    def _flush_subnormal(y):
        return tl.where(tl.abs(y) < FLOAT32_TINY, 0.0 * y, y)

    @triton.jit
    def exp2_approx(x):
        """2 ** x: the interpreter's exp2 at the emulated error, subnormal results flushed (float32)."""
        if x.dtype == tl.float64:
            return tl.exp2(x)
        return _flush_subnormal(tl.exp2(x) * (1.0 + EMULATED_ERROR_SIGN * EX2_RELATIVE_ERROR))

    @triton.jit
    def reciprocal_approx(x):
        """1 / x: the interpreter's division at the emulated error, subnormal x flushed (float32)."""
        if x.dtype == tl.float64:
            return 1.0 / x
        return (1.0 / _flush_subnormal(x)) * (1.0 + EMULATED_ERROR_SIGN * RCP_RELATIVE_ERROR)

    @triton.jit
    def log2_approx(x):
        """log2(x): the interpreter's log2 at the emulated error (float32)."""
        if x.dtype == tl.float64:
            return tl.log2(x)
        return tl.log2(x) + EMULATED_ERROR_SIGN * LG2_ABSOLUTE_ERROR

    @triton.jit
    def maximum_as_stored(a, b):
        """max(a, b) of two tensors of the logits' dtype, NaN ignored: the interpreter's NumPy maximum
        of bfloat16 compares bit patterns (triton 3.9), so it compares in float32 there (exact)."""
        return tl.maximum(a.to(tl.float32), b.to(tl.float32)).to(a.dtype)

else:

    @triton.jit
    def _float32_ptx(x, ASM: tl.constexpr):
        """One float32 PTX instruction, ``ASM`` = "op $0, $1;", applied element-wise."""
        return tl.inline_asm_elementwise(ASM, "=r,r", [x], dtype=tl.float32, is_pure=True, pack=1)

    @triton.jit
    def exp2_approx(x):
        """2 ** x: float32 through ex2.approx.ftz (one MUFU, no range fix), float64 precise."""
        if x.dtype == tl.float32:
            return _float32_ptx(x, "ex2.approx.ftz.f32 $0, $1;")
        else:
            return tl.exp2(x)

    @triton.jit
    def reciprocal_approx(x):
        """1 / x: float32 through rcp.approx.ftz (one MUFU), float64 precise."""
        if x.dtype == tl.float32:
            return _float32_ptx(x, "rcp.approx.ftz.f32 $0, $1;")
        else:
            return 1.0 / x

    @triton.jit
    def maximum_as_stored(a, b):
        """max(a, b) of two tensors of the logits' dtype, NaN ignored (IEEE maxNum): exact in any
        precision, so 16-bit logits take one packed max a pair, before any conversion."""
        return tl.maximum(a, b)

    @triton.jit
    def log2_approx(x):
        """log2(x): float32 through lg2.approx (one MUFU and a subnormal range fix: a subnormal
        base keeps its power), float64 precise."""
        if x.dtype == tl.float32:
            return _float32_ptx(x, "lg2.approx.f32 $0, $1;")
        else:
            return tl.log2(x)


@triton.jit
def log_of_sum(total):
    """log(total) for a softmax row's sum of exp(x - max), total >= 1 (NaN, inf stay): below 2
    log1p_unit(total - 1) (total - 1 is exact there; relative 1.6e-6, so a confident row's tiny
    loss keeps its precision), from 2 on lg2.approx x ln 2 (absolute 1.7e-7 on a log >= 0.69:
    relative <= 2.5e-7); ~12 instructions where the precise tl.log takes ~35.  float64: tl.log."""
    if total.dtype == tl.float64:
        return tl.log(total)
    near_one = total < 2.0
    return tl.where(near_one, log1p_unit(tl.where(near_one, total - 1.0, 0.0)), log2_approx(total) * LN2)


@triton.jit
def sigmoid_parts(x, SUBNORMAL_E: tl.constexpr):
    """(exp(-|x|), 1 / (1 + exp(-|x|)), log1p(exp(-|x|))): two MUFU instructions.

    With e = exp(-|x|) <= 1 and r = 1 / (1 + e), sigmoid(|x|) = r and
    sigmoid(-|x|) = e * r, so neither p nor 1 - p is formed as 1 - (something
    near 1); softplus(+-x) = max(+-x, 0) + log1p(e).  With SUBNORMAL_E, e is squared
    from exp(-|x| / 2), so it keeps its subnormal values down to |x| = 103 where the
    flushing ex2 alone would stop at |x| = 87 (relative error <= 2 ** -21 + 2 ** -24:
    twice ex2's, and the product's rounding); without, e is one ex2 (2 ** -22), flushed
    below 2 ** -126: one instruction fewer, for a caller whose every term in e is then
    out of float32's range anyway (a focal weight (1 - p_t) ** gamma, gamma >= 1).
    """
    if SUBNORMAL_E:
        half = exp2_approx(tl.abs(x) * (-0.5 * LOG2E))
        e = half * half
    else:
        e = exp2_approx(tl.abs(x) * -LOG2E)
    r = reciprocal_approx(1.0 + e)
    return e, r, log1p_unit(e)


@triton.jit
def sigmoid_softplus(x):
    """(s, 1 - s, softplus(x), softplus(-x)) of a logit x (+-inf too), s = sigmoid(x), from
    ``sigmoid_parts``: neither probability is formed as 1 - the other, and -log(1 - s) = sp(x),
    -log s = sp(-x) without a logarithm of s."""
    e, r, log1p_e = sigmoid_parts(x, True)
    positive_x = x >= 0.0
    er = e * r
    return (
        tl.where(positive_x, r, er),
        tl.where(positive_x, er, r),
        tl.maximum(x, 0.0) + log1p_e,
        tl.maximum(-x, 0.0) + log1p_e,
    )


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
    # numerator / denominator, and 0 where the denominator is 0 (never divides by 0).  Triton's
    # float32 division is div.full.f32 (2 ulp, subnormal denominators kept: ~5 instructions).
    nonzero = denominator != 0.0
    return tl.where(nonzero, numerator / tl.where(nonzero, denominator, 1.0), 0.0)


@triton.jit
def small_ratio_or_zero(numerator, denominator):
    """numerator / denominator for a ratio that stays small (|ratio| <= ~1, so its terms are
    negligible where it is dropped): float32 through ``reciprocal_approx`` (within 2 ulp, two
    instructions), 0 where |denominator| is below 2 ** -126 (0 or subnormal: the reciprocal would
    flush); float64 divides wherever the denominator is not 0."""
    if denominator.dtype == tl.float64:
        kept = denominator != 0.0
    else:
        kept = tl.abs(denominator) >= FLOAT32_TINY
    return tl.where(kept, numerator * reciprocal_approx(tl.where(kept, denominator, 1.0)), 0.0)


@triton.jit
def expm1(u):
    """exp(u) - 1 without cancellation near 0: a Taylor series for small |u|, exp(u) - 1 beyond
    (``exp2_approx``: within 2 ** -22 of exp(u), so within 1e-6 of exp(u) - 1 from |u| = 0.25 on).

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
    return tl.where(small, series, exp2_approx(u * LOG2E) - 1.0)


@triton.jit
def clamp_positive_infinity(x):
    """+inf -> 3e38 for the softmax: -inf logits (masked classes) are exact as they are,
    a +inf logit takes the whole probability like any logit far above the others."""
    return tl.where(x > BIG, BIG, x)


@triton.jit
def float64_scalar(value, remainder, COMPUTE: tl.constexpr):
    """A float scalar argument in COMPUTE precision.  Triton passes Python floats as float32,
    so the launcher sends a float64 number as ``value`` (its float32 rounding) and
    ``remainder`` (exact - value): their sum in float64 is within 2**-48 of the number;
    float32 math takes ``value`` alone.  A number the launcher leaves out (None: a factor given as
    a tensor, or not at all) reads as 0, unused."""
    if value is None:
        return 0.0
    elif COMPUTE == tl.float64:
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
