"""Multiclass (softmax) focal loss: functional and nn.Module forms."""

from collections.abc import Sequence

import torch
from torch import Tensor

from . import reference
from ._class_walk import gradient_like, softmax_focal_forward
from ._options import SoftmaxOptions
from ._registry import LossSpec, RegisteredLoss, per_row_loss
from ._validation import (
    Reduction,
    check_label_smoothing,
    check_loss_options,
    check_softmax_args,
    check_unit_alpha,
    class_weights_buffer,
    scalar_value,
)

_softmax = RegisteredLoss(
    LossSpec(
        name="softmax_focal_loss",
        options=SoftmaxOptions,
        launch=softmax_focal_forward,
        reference=reference.softmax_focal_checked,
        empty_loss=per_row_loss,
        empty_grad=gradient_like,
        row_broadcast=True,
    )
)


def softmax_focal_loss(
    inputs: Tensor,
    targets: Tensor,
    alpha: float | Sequence[float] | Tensor | None = None,
    gamma: float | Tensor = 2.0,
    reduction: Reduction = "mean",
    *,
    ignore_index: int = -100,
    weight: Tensor | None = None,
    normalizer: float | Tensor | None = None,
    label_smoothing: float = 0.0,
) -> Tensor:
    """Multiclass focal loss over softmax probabilities, in one fused Triton kernel with its gradient.

    loss_i = -weight_i * alpha_k * (1 - p_k) ** gamma * log p_k, p = softmax(inputs, dim=1), k =
    targets_i; with target probabilities q (dense targets or label smoothing) the sum over j of
    q_j alpha_j (1 - p_j) ** gamma (-log p_j).  gamma = 0 and alpha=None give ``F.cross_entropy``.
    Every option, exactly: docs/semantics.md.

    Args:
        inputs: logits (N, C) or (N, C, d1, ...), the layout of ``F.cross_entropy``, any strides;
            float32, float16, bfloat16 or float64.
        targets: class indices (N,) or (N, d1, ...) (int64, int32, uint8; outside [0, C) and not
            ``ignore_index``: an error on the CPU, a NaN row on the GPU), or target probabilities
            of the shape of ``inputs``.
        alpha: ``None`` (no alpha factor), one number in [0, 1], or C per-class weights >= 0.
        gamma: focusing exponent >= 0.  Default 2.
        reduction: ``'none'`` ((N, d1, ...)), ``'mean'`` (over the non-ignored positions, or
            ``normalizer``) or ``'sum'``.
        ignore_index: class-index positions equal to it give 0 loss and gradient.  Default -100.
        weight: a floating tensor broadcastable to the 'none' loss, one weight per position, read
            in place; no gradient flows to it.
        normalizer: with 'mean' only, a number or a 0-d device tensor the summed loss is divided
            by, read on the device.
        label_smoothing: in [0, 1]; the targets become (1 - ls) * onehot(k) + ls / C.  Default 0.

    Returns:
        The loss: float32 for float16 / bfloat16 inputs under ``torch.autocast``, else the dtype
        of ``inputs``.
    """
    options = check_softmax_args(
        inputs, targets, alpha, gamma, reduction, ignore_index, weight, normalizer, label_smoothing
    )
    return _softmax(inputs, targets, options)


class SoftmaxFocalLoss(torch.nn.Module):
    """Module form of :func:`softmax_focal_loss`; ``forward(inputs, targets, weight=None,
    normalizer=None)``.  A per-class ``alpha`` is kept as a buffer, so it follows the module
    across ``.to(device)``."""

    def __init__(
        self,
        alpha: float | Sequence[float] | Tensor | None = None,
        gamma: float | Tensor = 2.0,
        reduction: Reduction = "mean",
        ignore_index: int = -100,
        *,
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__()
        check_loss_options(gamma, reduction, ignore_index)
        self.label_smoothing = check_label_smoothing(label_smoothing)
        alpha = scalar_value("alpha", alpha)
        if isinstance(alpha, (list, tuple, torch.Tensor)):
            self.register_buffer("alpha", class_weights_buffer(alpha, "alpha", unit=False))
        else:
            self.alpha = check_unit_alpha(alpha)
        self.gamma, self.reduction, self.ignore_index = gamma, reduction, ignore_index

    def forward(
        self, inputs: Tensor, targets: Tensor, weight: Tensor | None = None, normalizer: float | Tensor | None = None
    ) -> Tensor:
        return softmax_focal_loss(
            inputs,
            targets,
            self.alpha,
            self.gamma,
            self.reduction,
            ignore_index=self.ignore_index,
            weight=weight,
            normalizer=normalizer,
            label_smoothing=self.label_smoothing,
        )

    def extra_repr(self) -> str:
        alpha = "per-class" if isinstance(self.alpha, torch.Tensor) else self.alpha
        return (
            f"alpha={alpha}, gamma={self.gamma}, reduction={self.reduction!r}, ignore_index={self.ignore_index}, "
            f"label_smoothing={self.label_smoothing}"
        )
