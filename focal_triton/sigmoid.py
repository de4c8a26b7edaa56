"""Binary (sigmoid) focal loss: functional and nn.Module forms."""

import torch
from torch import Tensor

from . import reference
from ._class_walk import gradient_like, sigmoid_focal_index_forward
from ._elementwise import sigmoid_focal_forward
from ._registry import LossSpec, RegisteredLoss
from ._validation import (
    Reduction,
    check_binary_alpha,
    check_loss_options,
    check_sigmoid_args,
    check_sigmoid_index_args,
    is_class_index_form,
)

BINARY_OPTIONS = (("alpha", "float?"), ("gamma", "float"), ("reduction", "str"), ("ignore_index", "int"))

_same_shape = RegisteredLoss(
    LossSpec(
        name="sigmoid_focal_loss",
        options=BINARY_OPTIONS,
        launch=sigmoid_focal_forward,
        reference=reference.sigmoid_focal_checked,
        empty_loss=lambda inputs, targets, reduction, dtype: inputs.new_empty(
            inputs.shape if reduction == "none" else (), dtype=dtype
        ),
        empty_grad=lambda inputs, dtype: inputs.new_empty(inputs.shape, dtype=dtype),
    )
)
_class_index = RegisteredLoss(
    LossSpec(
        name="sigmoid_focal_index_loss",
        options=BINARY_OPTIONS,
        launch=sigmoid_focal_index_forward,
        reference=reference.sigmoid_focal_index_checked,
        empty_loss=lambda inputs, targets, reduction, dtype: (
            gradient_like(inputs, dtype) if reduction == "none" else inputs.new_empty((), dtype=dtype)
        ),
        empty_grad=gradient_like,
    )
)


def sigmoid_focal_loss(
    inputs: Tensor,
    targets: Tensor,
    alpha: float | Tensor | None = 0.25,
    gamma: float | Tensor = 2.0,
    reduction: Reduction = "none",
    *,
    ignore_index: int = -100,
) -> Tensor:
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
            a value outside gives NaN loss and gradient there), bool or uint8
            (labels: nonzero is positive; uint8 labels equal to ``ignore_index``
            are ignored), read in their own dtype, never copied to float; or, for
            ``inputs`` of shape (N, C, d1, ...), integer class indices (int64, int32,
            uint8) of shape (N, d1, ...): an implicit one-hot over C (the RetinaNet /
            FCOS head).  A value in [0, C) marks
            that class positive, C or any other value outside [0, C) means
            background (every class negative), and ``ignore_index`` positions
            contribute nothing.  No one-hot tensor is built.
        alpha: weight of the positive class in [0, 1]; negatives get 1 - alpha.
            ``None`` or a negative number drops the alpha_t factor (as torchvision).
            Default 0.25.
        gamma: focusing exponent, any finite number >= 0 (alpha and gamma may also be
            0-d CPU tensors, read without a device sync); 0 gives plain
            (alpha-weighted) BCE with logits.  Default 2.
        reduction: ``'none'`` (loss of each element, shape of ``inputs``, 0 at
            ignored positions), ``'mean'`` (sum over the number of non-ignored
            elements; NaN when there are none) or ``'sum'``.  Reductions accumulate
            in float32 in a fixed order.
        ignore_index: keyword-only; class-index and uint8 targets: positions with
            this target contribute 0 loss and 0 gradient and leave the 'mean'
            denominator.  Default -100 (no uint8 value).

    Returns:
        The loss: float32 for float16 / bfloat16 inputs under ``torch.autocast``,
        else the dtype of ``inputs``.
    """
    if is_class_index_form(inputs, targets):
        alpha, gamma, ignore_index = check_sigmoid_index_args(inputs, targets, alpha, gamma, reduction, ignore_index)
        return _class_index(inputs, targets, alpha, gamma, reduction, ignore_index)
    alpha, gamma, ignore_index = check_sigmoid_args(inputs, targets, alpha, gamma, reduction, ignore_index)
    return _same_shape(inputs, targets, alpha, gamma, reduction, ignore_index)


class SigmoidFocalLoss(torch.nn.Module):
    """Module form of :func:`sigmoid_focal_loss`; note the default reduction is ``'mean'``."""

    def __init__(
        self,
        alpha: float | Tensor | None = 0.25,
        gamma: float | Tensor = 2.0,
        reduction: Reduction = "mean",
        ignore_index: int = -100,
    ) -> None:
        super().__init__()
        check_binary_alpha(alpha)
        check_loss_options(gamma, reduction, ignore_index)
        self.alpha, self.gamma, self.reduction, self.ignore_index = alpha, gamma, reduction, ignore_index

    def forward(self, inputs: Tensor, targets: Tensor) -> Tensor:
        return sigmoid_focal_loss(
            inputs, targets, self.alpha, self.gamma, self.reduction, ignore_index=self.ignore_index
        )

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}, gamma={self.gamma}, reduction={self.reduction!r}, ignore_index={self.ignore_index}"
