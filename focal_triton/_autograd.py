"""Autograd wiring shared by every loss: the forward kernel already wrote dL/dx."""
import torch
from torch.autograd.function import once_differentiable

from ._launch import scale_grad_, sigmoid_focal_forward

SECOND_BACKWARD_ERROR = (
    "focal_triton: backward through the same focal loss twice (retain_graph=True) is not supported: "
    "the gradient buffer written by the forward is scaled in place by the first backward. "
    "Compute the loss again for a second backward."
)


def save_fused_grad(ctx, grad):
    ctx.save_for_backward(grad)
    ctx.backward_done = False


def fused_grad_backward(ctx, grad_output):
    """Scales the forward's gradient buffer by grad_output (read on the device) and returns it."""
    if ctx.backward_done:
        raise RuntimeError(SECOND_BACKWARD_ERROR)
    ctx.backward_done = True
    (grad,) = ctx.saved_tensors
    return scale_grad_(grad, grad_output)


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
