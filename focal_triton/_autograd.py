"""Autograd wiring shared by every loss: the forward kernel already wrote dL/dx."""
import torch
from torch.autograd.function import once_differentiable

from ._launch import accumulator_dtype, scale_grad, sigmoid_focal_forward


def save_fused_grad(ctx, grad):
    ctx.save_for_backward(grad)
    ctx.carried_scale = None


def fused_grad_backward(ctx, grad_output):
    """grad_output * the forward's gradient buffer, scaled on the device (no host sync)."""
    (grad,) = ctx.saved_tensors
    first = ctx.carried_scale is None
    if first:
        ctx.carried_scale = torch.empty((), dtype=accumulator_dtype(grad.dtype), device=grad.device)
    return scale_grad(grad, grad_output, ctx.carried_scale, first)


class SigmoidFocalLossFunction(torch.autograd.Function):
    """Sigmoid focal loss with the gradient computed in the forward kernel.

    Second derivatives are not supported (``once_differentiable`` raises).
    """

    @staticmethod
    def forward(ctx, inputs, targets, alpha, gamma, reduction):
        loss, grad = sigmoid_focal_forward(inputs, targets, alpha, gamma, reduction, need_grad=True)
        save_fused_grad(ctx, grad)
        return loss

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output):
        return fused_grad_backward(ctx, grad_output), None, None, None, None
