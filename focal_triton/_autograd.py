"""Autograd wiring shared by every loss: the forward kernel already wrote dL/dx."""

import torch

from ._launch import accumulator_dtype, scale_grad, sigmoid_focal_forward

SECOND_DERIVATIVE_ERROR = (
    "focal_triton: second derivatives of the focal losses are not supported "
    "(the gradient is computed by the forward kernel; its derivative is not implemented)"
)


def save_fused_grad(ctx, grad):
    ctx.save_for_backward(grad)
    ctx.carried_scale = None


def fused_grad_backward(ctx, grad_output):
    """grad_output * the forward's gradient buffer, scaled on the device (no host sync).

    Under create_graph=True the result gets a grad_fn that raises
    SECOND_DERIVATIVE_ERROR if a second derivative is ever taken through it.
    """
    (grad,) = ctx.saved_tensors
    first = ctx.carried_scale is None
    if first:
        ctx.carried_scale = torch.empty((), dtype=accumulator_dtype(grad.dtype), device=grad.device)
    create_graph = torch.is_grad_enabled()
    with torch.no_grad():
        result = scale_grad(grad, grad_output, ctx.carried_scale, first)
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
