"""Binary (sigmoid) focal loss: functional and nn.Module forms."""

import torch

from . import reference
from ._autograd import SigmoidFocalIndexLossFunction, SigmoidFocalLossFunction
from ._backend import REFERENCE, backend_for
from ._launch import sigmoid_focal_forward, sigmoid_focal_index_forward
from ._ops import sigmoid_focal_index_op, sigmoid_focal_op
from ._validation import check_sigmoid_args, check_sigmoid_index_args, is_class_index_form


def sigmoid_focal_loss(inputs, targets, alpha=0.25, gamma=2.0, reduction="none", *, ignore_index=-100):
    """Focal loss of Lin et al. (2017) for binary (sigmoid) classification.

    A drop-in replacement for ``torchvision.ops.sigmoid_focal_loss`` computed by
    one fused Triton kernel that also writes the gradient, stable for every logit.

    loss = alpha_t * (1 - p_t) ** gamma * BCEWithLogits(inputs, targets), with
    p = sigmoid(inputs), p_t = p * t + (1 - p) * (1 - t) and
    alpha_t = alpha * t + (1 - alpha) * (1 - t).

    Args:
        inputs: logits of any shape, float32, float16, bfloat16 or float64;
            contiguous or not.  Math runs in float32 (float64 for float64 inputs).
        targets: either the shape of ``inputs``: floating (soft labels in [0, 1];
            values outside are not checked and give the formula's value), bool or
            uint8 (labels: nonzero is positive), read in their own dtype, never
            copied to float; or, for ``inputs`` of shape (N, C, d1, ...), integer
            class indices (int64, int32, uint8) of shape (N, d1, ...): an implicit
            one-hot over C (the RetinaNet / FCOS head).  A value in [0, C) marks
            that class positive, C or any other value outside [0, C) means
            background (every class negative), and ``ignore_index`` positions
            contribute nothing.  No one-hot tensor is built.
        alpha: weight of the positive class in [0, 1]; negatives get 1 - alpha.
            ``None`` or a negative number drops the alpha_t factor (as torchvision).
            Default 0.25.
        gamma: focusing exponent, any finite number >= 0; 0 gives plain
            (alpha-weighted) BCE with logits.  Default 2.
        reduction: ``'none'`` (loss of each element, shape of ``inputs``, 0 at
            ignored positions), ``'mean'`` (sum over the number of non-ignored
            elements; NaN when there are none) or ``'sum'``.  Reductions accumulate
            in float32 in a fixed order.
        ignore_index: class-index targets only (keyword): positions with this
            target contribute 0 loss and 0 gradient.  Default -100.

    Returns:
        The loss in the dtype of ``inputs``.
    """
    if is_class_index_form(inputs, targets):
        checked_alpha, checked_gamma, _ = check_sigmoid_index_args(
            inputs, targets, alpha, gamma, reduction, ignore_index
        )
        if backend_for(inputs) == REFERENCE:
            return reference.sigmoid_focal_loss(inputs, targets, alpha, gamma, reduction, ignore_index=ignore_index)
        args = (inputs, targets, checked_alpha, checked_gamma, reduction, ignore_index)
        need_grad = torch.is_grad_enabled() and inputs.requires_grad
        if torch.compiler.is_compiling():
            alpha_args = (checked_alpha or 0.0, checked_alpha is not None)
            return sigmoid_focal_index_op(
                inputs, targets, *alpha_args, checked_gamma, reduction, ignore_index, need_grad
            )[0]
        if need_grad:
            return SigmoidFocalIndexLossFunction.apply(*args)
        return sigmoid_focal_index_forward(*args, need_grad=False)[0]
    checked_alpha, checked_gamma = check_sigmoid_args(inputs, targets, alpha, gamma, reduction)
    if backend_for(inputs) == REFERENCE:
        return reference.sigmoid_focal_loss(inputs, targets, alpha, gamma, reduction)
    args = (inputs, targets, checked_alpha, checked_gamma, reduction)
    need_grad = torch.is_grad_enabled() and inputs.requires_grad
    if torch.compiler.is_compiling():  # the custom op: no graph break
        alpha_args = (checked_alpha or 0.0, checked_alpha is not None)
        return sigmoid_focal_op(inputs, targets, *alpha_args, checked_gamma, reduction, need_grad)[0]
    if need_grad:
        return SigmoidFocalLossFunction.apply(*args)
    return sigmoid_focal_forward(*args, need_grad=False)[0]


class SigmoidFocalLoss(torch.nn.Module):
    """Module form of :func:`sigmoid_focal_loss`; note the default reduction is ``'mean'``."""

    def __init__(self, alpha=0.25, gamma=2.0, reduction="mean", ignore_index=-100):
        super().__init__()
        self.alpha, self.gamma, self.reduction, self.ignore_index = alpha, gamma, reduction, ignore_index

    def forward(self, inputs, targets):
        return sigmoid_focal_loss(
            inputs, targets, self.alpha, self.gamma, self.reduction, ignore_index=self.ignore_index
        )

    def extra_repr(self):
        return f"alpha={self.alpha}, gamma={self.gamma}, reduction={self.reduction!r}, ignore_index={self.ignore_index}"
