"""Autograd wiring shared by every loss: the forward kernel already wrote dL/dx."""

import torch

from ._launch import scale_grad_in_place, sigmoid_focal_forward, sigmoid_focal_index_forward, softmax_focal_forward

SECOND_DERIVATIVE_ERROR = (
    "focal_triton: second derivatives of the focal losses are not supported "
    "(the gradient is computed by the forward kernel; its derivative is not implemented)"
)


def save_fused_grad(ctx, grad, row_broadcast=False):
    """Keeps the forward's gradient for backward.  row_broadcast: a per-row
    grad_output of shape (N, *) multiplies a gradient of shape (N, C, *)."""
    ctx.save_for_backward(grad)
    ctx.carried_scale = None
    ctx.row_broadcast = row_broadcast


def times_grad_output(grad, grad_output, row_broadcast):
    """grad * grad_output out of place; a per-row grad_output (N, *) broadcasts over the classes of (N, C, *)."""
    if row_broadcast and grad_output.dim() == grad.dim() - 1:
        grad_output = grad_output.unsqueeze(1)
    return grad * grad_output.to(grad.dtype)


def _scaled_grad(ctx, grad, grad_output):
    if grad_output.numel() == 1 and ctx.carried_scale is None:
        # The usual first backward of a 'mean'/'sum' loss: in place, nothing written for 1.0.
        ctx.carried_scale = scale_grad_in_place(grad, grad_output.reshape(()))
        return grad
    # A per-element grad_output, or a repeated backward (retain_graph): out of place,
    # dividing out the scale the buffer already carries.
    if ctx.carried_scale is not None:
        grad_output = grad_output / ctx.carried_scale
    return times_grad_output(grad, grad_output, ctx.row_broadcast)


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
    def forward(ctx, inputs, targets, alpha, gamma, reduction):
        loss, grad = sigmoid_focal_forward(inputs, targets, alpha, gamma, reduction, need_grad=True)
        save_fused_grad(ctx, grad)
        return loss

    @staticmethod
    def backward(ctx, grad_output):
        return fused_grad_backward(ctx, grad_output), None, None, None, None


class SoftmaxFocalLossFunction(torch.autograd.Function):
    """Softmax focal loss with the gradient computed in the forward kernel."""

    @staticmethod
    def forward(ctx, inputs, targets, alpha, gamma, reduction, ignore_index):
        loss, grad = softmax_focal_forward(inputs, targets, alpha, gamma, reduction, ignore_index, need_grad=True)
        save_fused_grad(ctx, grad, row_broadcast=True)
        return loss

    @staticmethod
    def backward(ctx, grad_output):
        return fused_grad_backward(ctx, grad_output), None, None, None, None, None


class SigmoidFocalIndexLossFunction(torch.autograd.Function):
    """Sigmoid focal loss against class-index targets, gradient computed in the forward kernel."""

    @staticmethod
    def forward(ctx, inputs, targets, alpha, gamma, reduction, ignore_index):
        loss, grad = sigmoid_focal_index_forward(inputs, targets, alpha, gamma, reduction, ignore_index, True)
        save_fused_grad(ctx, grad)
        return loss

    @staticmethod
    def backward(ctx, grad_output):
        return fused_grad_backward(ctx, grad_output), None, None, None, None, None
