"""Binary (sigmoid) focal loss: functional and nn.Module forms."""

import torch

from . import reference
from ._autograd import SigmoidFocalLossFunction
from ._backend import REFERENCE, backend_for
from ._launch import sigmoid_focal_forward
from ._validation import check_sigmoid_args


def sigmoid_focal_loss(inputs, targets, alpha=0.25, gamma=2.0, reduction="none"):
    """Focal loss of Lin et al. (2017) for binary (sigmoid) classification.

    A drop-in replacement for ``torchvision.ops.sigmoid_focal_loss`` computed by
    one fused Triton kernel that also writes the gradient, stable for every logit.

    loss = alpha_t * (1 - p_t) ** gamma * BCEWithLogits(inputs, targets), with
    p = sigmoid(inputs), p_t = p * t + (1 - p) * (1 - t) and
    alpha_t = alpha * t + (1 - alpha) * (1 - t).

    Args:
        inputs: logits of any shape, float32, float16, bfloat16 or float64;
            contiguous or not.  Math runs in float32 (float64 for float64 inputs).
        targets: same shape as ``inputs``: floating (soft labels in [0, 1];
            values outside are not checked and give the formula's value), bool or
            uint8 (0 / 1).  Read in their own dtype; never copied to float.
        alpha: weight of the positive class in [0, 1]; negatives get 1 - alpha.
            ``None`` or a negative number drops the alpha_t factor (as torchvision).
            Default 0.25.
        gamma: focusing exponent, any finite number >= 0; 0 gives plain
            (alpha-weighted) BCE with logits.  Default 2.
        reduction: ``'none'`` (loss of each element, shape of ``inputs``),
            ``'mean'`` (sum / number of elements; NaN for an empty input) or
            ``'sum'``.  Reductions accumulate in float32 in a fixed order.

    Returns:
        The loss in the dtype of ``inputs``.
    """
    checked_alpha, checked_gamma = check_sigmoid_args(inputs, targets, alpha, gamma, reduction)
    if backend_for(inputs) == REFERENCE:
        return reference.sigmoid_focal_loss(inputs, targets, alpha, gamma, reduction)
    alpha, gamma = checked_alpha, checked_gamma
    if torch.is_grad_enabled() and inputs.requires_grad:
        return SigmoidFocalLossFunction.apply(inputs, targets, alpha, gamma, reduction)
    loss, _ = sigmoid_focal_forward(inputs, targets, alpha, gamma, reduction, need_grad=False)
    return loss


class SigmoidFocalLoss(torch.nn.Module):
    """Module form of :func:`sigmoid_focal_loss`; note the default reduction is ``'mean'``."""

    def __init__(self, alpha=0.25, gamma=2.0, reduction="mean"):
        super().__init__()
        self.alpha, self.gamma, self.reduction = alpha, gamma, reduction

    def forward(self, inputs, targets):
        return sigmoid_focal_loss(inputs, targets, self.alpha, self.gamma, self.reduction)

    def extra_repr(self):
        return f"alpha={self.alpha}, gamma={self.gamma}, reduction={self.reduction!r}"
