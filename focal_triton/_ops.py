"""The losses as torch.library custom ops, for torch.compile.

Eager calls go through the autograd Functions of ``_autograd`` (whose backward
scales the gradient buffer in place).  Under ``torch.compile`` the functional
API calls these ops instead: each returns the loss and the fused gradient,
``register_fake`` gives their shapes and dtypes, and ``register_autograd``
multiplies the gradient by grad_output with ordinary torch ops that Inductor
can fuse, so a model with a focal loss compiles with ``fullgraph=True``.
"""

from typing import Optional

import torch
from torch import Tensor

from ._autograd import times_grad_output
from ._launch import (
    grad_buffer_dtype,
    gradient_like,
    sigmoid_focal_forward,
    sigmoid_focal_index_forward,
    softmax_focal_forward,
)


def _no_grad_placeholder(inputs):
    return inputs.new_empty(0)


def _outputs(inputs, loss, grad):
    return loss, grad if grad is not None else _no_grad_placeholder(inputs)


# custom_op reads the annotations at run time: Optional[...] rather than "X | None" (Python 3.9)
@torch.library.custom_op("focal_triton::sigmoid_focal_loss", mutates_args=())
def sigmoid_focal_op(
    inputs: Tensor,
    targets: Tensor,
    alpha: Optional[float],  # noqa: UP045
    gamma: float,
    reduction: str,
    ignore_index: int,
    need_grad: bool,
    loss_dtype: torch.dtype,
) -> tuple[Tensor, Tensor]:
    return _outputs(
        inputs, *sigmoid_focal_forward(inputs, targets, alpha, gamma, reduction, ignore_index, need_grad, loss_dtype)
    )


@sigmoid_focal_op.register_fake
def _(inputs, targets, alpha, gamma, reduction, ignore_index, need_grad, loss_dtype):
    loss = inputs.new_empty(inputs.shape if reduction == "none" else (), dtype=loss_dtype)
    grad = inputs.new_empty(inputs.shape, dtype=grad_buffer_dtype(inputs.dtype)) if need_grad else None
    return _outputs(inputs, loss, grad)


@torch.library.custom_op("focal_triton::sigmoid_focal_index_loss", mutates_args=())
def sigmoid_focal_index_op(
    inputs: Tensor,
    targets: Tensor,
    alpha: Optional[float],  # noqa: UP045
    gamma: float,
    reduction: str,
    ignore_index: int,
    need_grad: bool,
    loss_dtype: torch.dtype,
) -> tuple[Tensor, Tensor]:
    return _outputs(
        inputs,
        *sigmoid_focal_index_forward(inputs, targets, alpha, gamma, reduction, ignore_index, need_grad, loss_dtype),
    )


@sigmoid_focal_index_op.register_fake
def _(inputs, targets, alpha, gamma, reduction, ignore_index, need_grad, loss_dtype):
    loss = gradient_like(inputs, loss_dtype) if reduction == "none" else inputs.new_empty((), dtype=loss_dtype)
    grad = gradient_like(inputs, grad_buffer_dtype(inputs.dtype)) if need_grad else None
    return _outputs(inputs, loss, grad)


@torch.library.custom_op("focal_triton::softmax_focal_loss", mutates_args=())
def softmax_focal_op(
    inputs: Tensor,
    targets: Tensor,
    alpha: Optional[float],  # noqa: UP045
    alpha_per_class: Optional[Tensor],  # noqa: UP045
    gamma: float,
    reduction: str,
    ignore_index: int,
    need_grad: bool,
    loss_dtype: torch.dtype,
) -> tuple[Tensor, Tensor]:
    alpha_arg = alpha_per_class if alpha_per_class is not None else alpha
    return _outputs(
        inputs,
        *softmax_focal_forward(inputs, targets, alpha_arg, gamma, reduction, ignore_index, need_grad, loss_dtype),
    )


@softmax_focal_op.register_fake
def _(inputs, targets, alpha, alpha_per_class, gamma, reduction, ignore_index, need_grad, loss_dtype):
    loss = targets.new_empty(targets.shape if reduction == "none" else (), dtype=loss_dtype)
    grad = gradient_like(inputs, grad_buffer_dtype(inputs.dtype)) if need_grad else None
    return _outputs(inputs, loss, grad)


def _save_gradient(ctx, inputs, output):
    ctx.save_for_backward(output[1])
    ctx.input_dtype = inputs[0].dtype
    ctx.n_arguments = len(inputs)


def _backward(row_broadcast):
    """The backward of an op: grad_output times the fused gradient, in torch ops."""

    def backward(ctx, grad_loss, _grad_of_grad):
        (grad,) = ctx.saved_tensors
        return (times_grad_output(grad, grad_loss, row_broadcast, ctx.input_dtype), *(None,) * (ctx.n_arguments - 1))

    return backward


sigmoid_focal_op.register_autograd(_backward(row_broadcast=False), setup_context=_save_gradient)
sigmoid_focal_index_op.register_autograd(_backward(row_broadcast=False), setup_context=_save_gradient)
softmax_focal_op.register_autograd(_backward(row_broadcast=True), setup_context=_save_gradient)
