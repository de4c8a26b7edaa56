"""Tensors read beside the logits in place, through their own strides (a broadcast view is never
expanded into a copy): per-element weights, pos_weight, per-class alpha, dense targets.

The element-wise kernel walks the logits flat (row-major), so an operand broadcast to the
logits' shape is described by its dims merged into at most three, (outer, middle, inner)
with sizes and strides (focal_triton/_layout.py, ``flat_operand``): element i sits at
(i % inner_size) * inner_stride + ((i // inner_size) % middle_size) * middle_stride
+ (i // (inner_size * middle_size)) * outer_stride.  A same-shape contiguous weight is one
dim of stride 1; a per-row weight of (N, C) logits, (N, 1), is (N: stride 1, C: stride 0).
The multiclass kernels read operands with (b, c, s) strides, as the logits (class_walk).
"""

import triton
import triton.language as tl

# How a kernel takes an optional factor such as alpha or pos_weight (its *_MODE constexpr).
OPERAND_NONE = tl.constexpr(0)  # not given: the factor is 1 (or the term is left out)
OPERAND_SCALAR = tl.constexpr(1)  # one number for every element, a float argument
OPERAND_TENSOR = tl.constexpr(2)  # a tensor read through its strides


@triton.constexpr_function
def operand_mode(has_tensor, has_number):
    """The OPERAND_* of a factor from what the launcher passed, at compile time: its tensor (a
    pointer, not None), else its number (not None), else neither.  Triton compiles a None argument
    as a constant, so each mode is its own variant and no flag travels beside the pointer."""
    if has_tensor:
        return OPERAND_TENSOR
    return OPERAND_SCALAR if has_number else OPERAND_NONE


@triton.jit
def flat_operand_offsets(offs, inner_size, middle_size, inner_stride, middle_stride, outer_stride, DIMS: tl.constexpr):
    """Offsets of an operand at flat logit indices ``offs``, from its DIMS (1 to 3) merged dims."""
    if DIMS == 1:
        return offs * inner_stride
    elif DIMS == 2:
        return (offs % inner_size) * inner_stride + (offs // inner_size) * middle_stride
    else:
        inner = offs % inner_size
        rest = offs // inner_size
        return inner * inner_stride + (rest % middle_size) * middle_stride + (rest // middle_size) * outer_stride


@triton.jit
def load_flat_operand(ptr, offs, mask, layout, COMPUTE: tl.constexpr):
    """The operand at flat logit indices ``offs`` in COMPUTE precision (0 where masked); ``layout``:
    (inner_size, middle_size, inner_stride, middle_stride, outer_stride, DIMS)."""
    inner_size, middle_size, inner_stride, middle_stride, outer_stride, DIMS = layout
    at = flat_operand_offsets(offs, inner_size, middle_size, inner_stride, middle_stride, outer_stride, DIMS)
    return tl.load(ptr + at, mask=mask, other=0.0).to(COMPUTE)
