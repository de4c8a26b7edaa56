"""Autograd wiring shared by every loss: the forward kernel already wrote dL/dx."""

import weakref

import torch

from ._launch import (
    accumulator_dtype,
    scale_grad_in_place,
    sigmoid_focal_forward,
    sigmoid_focal_index_forward,
    softmax_focal_forward,
)

SECOND_DERIVATIVE_ERROR = (
    "focal_triton: second derivatives of the focal losses are not supported "
    "(the gradient is computed by the forward kernel; its derivative is not implemented)"
)


def save_fused_grad(ctx, grad, input_dtype, row_broadcast=False):
    """Keeps the forward's gradient for backward.  row_broadcast: a per-row
    grad_output of shape (N, *) multiplies a gradient of shape (N, C, *)."""
    ctx.save_for_backward(grad)
    # Saved-tensor hooks (checkpointing, save_on_cpu) hand backward a different tensor
    # each time; only the very buffer the forward wrote may be scaled in place.
    ctx.saved_buffer = weakref.ref(grad)
    ctx.input_dtype = input_dtype
    ctx.carried_scale = None
    ctx.row_broadcast = row_broadcast


def times_grad_output(grad, grad_output, row_broadcast, out_dtype):
    """grad * grad_output out of place, multiplied in the accumulator dtype and rounded once to
    ``out_dtype``; a per-row grad_output (N, *) broadcasts over the classes of (N, C, *)."""
    if row_broadcast and grad_output.dim() == grad.dim() - 1:
        grad_output = grad_output.unsqueeze(1)
    compute = accumulator_dtype(grad.dtype)
    return (grad.to(compute) * grad_output.to(compute)).to(out_dtype)


def _scaled_grad(ctx, grad, grad_output):
    own_buffer = ctx.saved_buffer() is grad
    if grad_output.numel() == 1 and ctx.carried_scale is None and own_buffer and grad.dtype == ctx.input_dtype:
        # The usual first backward of a 'mean'/'sum' loss: in place, nothing written for 1.0.
        ctx.carried_scale = scale_grad_in_place(grad, grad_output.reshape(()))
        return grad
    # A per-element grad_output, a repeated backward (retain_graph), a buffer unpacked by a
    # saved-tensor hook, or a float16 gradient kept in float32: out of place, dividing out
    # the scale the buffer already carries.
    if ctx.carried_scale is not None and own_buffer:
        grad_output = grad_output / ctx.carried_scale
    return times_grad_output(grad, grad_output, ctx.row_broadcast, ctx.input_dtype)


def fused_grad_backward(ctx, grad_output):
    """grad_output * the forward's gradient buffer, on the device (no host sync).

    Under create_graph=True the result gets a grad_fn that raises
    SECOND_DERIVATIVE_ERROR if a second derivative is ever taken through it.
    """
    (grad,) = ctx.saved_tensors
    create_graph = torch.is_grad_enabled()
    with torch.no_grad():
        result = _scaled_grad(ctx, grad, grad_output)
    if create_graph:
        result = torch._C._functions.DelayedError(SECOND_DERIVATIVE_ERROR.encode(), 1)(result.detach().requires_grad_())
    return result


class SigmoidFocalLossFunction(torch.autograd.Function):
    """Sigmoid focal loss with the gradient computed in the forward kernel.

    Second derivatives are not supported: taking one raises SECOND_DERIVATIVE_ERROR.
    """

    @staticmethod
    def forward(ctx, inputs, targets, alpha, gamma, reduction, ignore_index, loss_dtype):
        loss, grad = sigmoid_focal_forward(inputs, targets, alpha, gamma, reduction, ignore_index, True, loss_dtype)
        save_fused_grad(ctx, grad, inputs.dtype)
        return loss

    @staticmethod
    def backward(ctx, grad_output):
        return fused_grad_backward(ctx, grad_output), None, None, None, None, None, None


class SoftmaxFocalLossFunction(torch.autograd.Function):
    """Softmax focal loss with the gradient computed in the forward kernel."""

    @staticmethod
    def forward(ctx, inputs, targets, alpha, gamma, reduction, ignore_index, loss_dtype):
        loss, grad = softmax_focal_forward(inputs, targets, alpha, gamma, reduction, ignore_index, True, loss_dtype)
        save_fused_grad(ctx, grad, inputs.dtype, row_broadcast=True)
        return loss

    @staticmethod
    def backward(ctx, grad_output):
        return fused_grad_backward(ctx, grad_output), None, None, None, None, None, None


class SigmoidFocalIndexLossFunction(torch.autograd.Function):
    """Sigmoid focal loss against class-index targets, gradient computed in the forward kernel."""

    @staticmethod
    def forward(ctx, inputs, targets, alpha, gamma, reduction, ignore_index, loss_dtype):
        loss, grad = sigmoid_focal_index_forward(
            inputs, targets, alpha, gamma, reduction, ignore_index, True, loss_dtype
        )
        save_fused_grad(ctx, grad, inputs.dtype)
        return loss

    @staticmethod
    def backward(ctx, grad_output):
        return fused_grad_backward(ctx, grad_output), None, None, None, None, None, None
