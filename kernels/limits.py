"""The finite magnitudes that stand in for infinities, named once for the kernels and the eager
reference: plain numbers, so the host reads them without Triton (``stable_math`` makes them the
kernels' constexprs)."""

# A term capped at BIG stays finite where it meets a 0 (0 * BIG = 0, where 0 * inf is NaN); the
# softmax clamps a +inf logit to BIG.
BIG = 3.0e38
# A log-probability below this comes only from a logit clamped to BIG elsewhere in its row: p = 0.
CLAMPED_LOG_P = -1.0e38
