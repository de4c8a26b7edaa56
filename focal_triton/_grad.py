"""The backward of every loss: grad_output times the gradient the forward kernel already wrote.

Eager (``eager_backward``): the usual first backward of a 'mean' / 'sum' loss scales the
saved buffer in place and writes nothing when grad_output is 1.0; anything else (a
per-element grad_output, a repeated backward, a buffer handed back by a saved-tensor hook,
a float16 gradient kept in float32) multiplies out of place.  Under torch.compile
(``times_grad_output``) the multiply is an ordinary torch op that Inductor fuses.
"""

import weakref
from typing import Any

import torch
import triton
from torch import Tensor

from focal_triton.kernels.grad_scale import scale_grad_kernel

from . import tuning
from ._dtypes import accumulator_dtype
from ._kernel_args import compute_dtype
from ._launch_lock import serialized_launches


def scale_grad_in_place(grad: Tensor, grad_output: Tensor) -> Tensor:
    """grad *= grad_output (a 0-d device tensor) unless it is 1.0; see kernels/grad_scale.py.

    ``grad`` must be dense.  Returns a 0-d device tensor holding the scale the buffer now carries.
    """
    carried = torch.empty((), dtype=accumulator_dtype(grad.dtype), device=grad.device)
    n = grad.numel()
    if n:
        block, warps = tuning.SCALE_CONFIG
        with serialized_launches(grad):
            scale_grad_kernel[(triton.cdiv(n, block),)](
                grad_ptr=grad,
                grad_out_ptr=grad_output,
                scale_ptr=carried,
                n=n,
                COMPUTE=compute_dtype(grad.dtype),
                BLOCK=block,
                num_warps=warps,
            )
    return carried


def times_grad_output(grad: Tensor, grad_output: Tensor, row_broadcast: bool, out_dtype: torch.dtype) -> Tensor:
    """grad * grad_output out of place, multiplied in the accumulator dtype and rounded once to
    ``out_dtype``; with ``row_broadcast`` a per-row grad_output (N, *) broadcasts over the
    classes of a (N, C, *) gradient; the (N,) grad_output of stacked sets over each set's
    (C, *) gradient."""
    if row_broadcast and grad_output.dim() == grad.dim() - 1:
        grad_output = grad_output.unsqueeze(1)
    elif grad_output.dim() == 1 and grad.dim() > 1:  # one a stacked set
        grad_output = grad_output.reshape(-1, *(1,) * (grad.dim() - 1))
    compute = accumulator_dtype(grad.dtype)
    return (grad.to(compute) * grad_output.to(compute)).to(out_dtype)


def save_fused_grad(ctx: Any, grad: Tensor, input_dtype: torch.dtype, row_broadcast: bool) -> None:
    """Keeps the forward's gradient for ``eager_backward``."""
    ctx.save_for_backward(grad)
    # Saved-tensor hooks (checkpointing, save_on_cpu) hand backward a different tensor
    # each time; only the very buffer the forward wrote may be scaled in place.
    ctx.saved_buffer = weakref.ref(grad)
    ctx.input_dtype = input_dtype
    ctx.carried_scale = None
    ctx.row_broadcast = row_broadcast


def eager_backward(ctx: Any, grad_output: Tensor) -> Tensor:
    """dL/dinputs from the buffer ``save_fused_grad`` kept, on the device (no host sync)."""
    try:
        (grad,) = ctx.saved_tensors
    except RuntimeError as error:
        if ctx.carried_scale is None or "modified by an inplace operation" not in str(error):
            raise
        raise RuntimeError(
            "focal_triton's saved gradient was modified in place: the first backward of this loss returned "
            "that buffer itself as the gradient of inputs (no copy), and a later backward (retain_graph=True) "
            "reads it again; modify a copy instead (g = g.clone() before an in-place op such as g.clamp_())"
        ) from error
    own_buffer = ctx.saved_buffer() is grad
    if grad_output.numel() == 1 and ctx.carried_scale is None and own_buffer and grad.dtype == ctx.input_dtype:
        ctx.carried_scale = scale_grad_in_place(grad, grad_output.reshape(()))
        return grad
    if ctx.carried_scale is not None and own_buffer:
        grad_output = grad_output / ctx.carried_scale  # the scale the buffer already carries
    return times_grad_output(grad, grad_output, ctx.row_broadcast, ctx.input_dtype)
