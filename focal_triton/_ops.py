"""The losses as torch.library custom ops, for torch.compile.

Eager calls go through the autograd Functions of ``_autograd`` (whose backward
scales the gradient buffer in place).  Under ``torch.compile`` the functional
API calls these ops instead: each returns the loss and the fused gradient,
``register_fake`` gives their shapes, and ``register_autograd`` multiplies the
gradient by grad_output with ordinary torch ops that Inductor can fuse, so a
model with a focal loss compiles with ``fullgraph=True``.
"""

from typing import Optional

import torch
from torch import Tensor

from ._autograd import times_grad_output
from ._launch import gradient_like, sigmoid_focal_forward, sigmoid_focal_index_forward, softmax_focal_forward


def _no_grad_placeholder(inputs):
    return inputs.new_empty(0)


@torch.library.custom_op("focal_triton::sigmoid_focal_loss", mutates_args=())
def sigmoid_focal_op(
    inputs: Tensor, targets: Tensor, alpha: float, has_alpha: bool, gamma: float, reduction: str, need_grad: bool
) -> tuple[Tensor, Tensor]:
    loss, grad = sigmoid_focal_forward(inputs, targets, alpha if has_alpha else None, gamma, reduction, need_grad)
    return loss, grad if grad is not None else _no_grad_placeholder(inputs)


@sigmoid_focal_op.register_fake
def _(inputs, targets, alpha, has_alpha, gamma, reduction, need_grad):
    loss = inputs.new_empty(inputs.shape) if reduction == "none" else inputs.new_empty(())
    return loss, inputs.new_empty(inputs.shape) if need_grad else _no_grad_placeholder(inputs)


@torch.library.custom_op("focal_triton::sigmoid_focal_index_loss", mutates_args=())
def sigmoid_focal_index_op(
    inputs: Tensor,
    targets: Tensor,
    alpha: float,
    has_alpha: bool,
    gamma: float,
    reduction: str,
    ignore_index: int,
    need_grad: bool,
) -> tuple[Tensor, Tensor]:
    loss, grad = sigmoid_focal_index_forward(
        inputs, targets, alpha if has_alpha else None, gamma, reduction, ignore_index, need_grad
    )
    return loss, grad if grad is not None else _no_grad_placeholder(inputs)


@sigmoid_focal_index_op.register_fake
def _(inputs, targets, alpha, has_alpha, gamma, reduction, ignore_index, need_grad):
    loss = gradient_like(inputs) if reduction == "none" else inputs.new_empty(())
    return loss, gradient_like(inputs) if need_grad else _no_grad_placeholder(inputs)


@torch.library.custom_op("focal_triton::softmax_focal_loss", mutates_args=())
def softmax_focal_op(
    inputs: Tensor,
    targets: Tensor,
    alpha: float,
    alpha_per_class: Optional[Tensor],  # noqa: FA100 - custom_op reads the annotation at run time
    has_alpha: bool,
    gamma: float,
    reduction: str,
    ignore_index: int,
    need_grad: bool,
) -> tuple[Tensor, Tensor]:
    alpha_arg = alpha_per_class if alpha_per_class is not None else (alpha if has_alpha else None)
    loss, grad = softmax_focal_forward(inputs, targets, alpha_arg, gamma, reduction, ignore_index, need_grad)
    return loss, grad if grad is not None else _no_grad_placeholder(inputs)


@softmax_focal_op.register_fake
def _(inputs, targets, alpha, alpha_per_class, has_alpha, gamma, reduction, ignore_index, need_grad):
    loss = targets.new_empty(targets.shape, dtype=inputs.dtype) if reduction == "none" else inputs.new_empty(())
    return loss, gradient_like(inputs) if need_grad else _no_grad_placeholder(inputs)


def _save_gradient(ctx, inputs, output):
    ctx.save_for_backward(output[1])


def _backward(n_arguments, row_broadcast):
    """The backward of an op with ``n_arguments``: grad_output times the fused gradient, in torch ops."""

    def backward(ctx, grad_loss, _grad_of_grad):
        (grad,) = ctx.saved_tensors
        return (times_grad_output(grad, grad_loss, row_broadcast), *(None,) * (n_arguments - 1))

    return backward


sigmoid_focal_op.register_autograd(_backward(7, row_broadcast=False), setup_context=_save_gradient)
sigmoid_focal_index_op.register_autograd(_backward(8, row_broadcast=False), setup_context=_save_gradient)
softmax_focal_op.register_autograd(_backward(9, row_broadcast=True), setup_context=_save_gradient)
