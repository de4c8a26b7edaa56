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

    loss_i = -weight_i * alpha_k * (1 - p_k) ** gamma * log p_k, with p = softmax(inputs, dim=1)
    and k = targets_i.  With gamma = 0 and alpha=None this is ``F.cross_entropy``.  With
    target probabilities q (dense targets, or label smoothing) it is the soft-target focal loss
    loss_i = -weight_i * sum_j q_j * alpha_j * (1 - p_j) ** gamma * log p_j, which with gamma = 0
    and alpha=None is ``F.cross_entropy`` with the same probabilities or ``label_smoothing``.

    Args:
        inputs: logits of shape (N, C) or (N, C, d1, ..., dk) (the layout of
            ``F.cross_entropy``), float32, float16, bfloat16 or float64; any C >= 1.
            Contiguous, channels_last and other layouts whose trailing dims merge
            into one stride are read in place (no permute, no copy).
        targets: class indices of shape (N,) or (N, d1, ..., dk), int64, int32 or
            uint8, read in their own dtype.  A value outside [0, C) that is not
            ``ignore_index`` is an error on the CPU; on the GPU (where checking
            would cost a host sync) that position's loss and gradient are NaN.
            Or target probabilities of the shape of ``inputs`` (floating: one-hot or
            soft, MONAI's form), read in place; used as given (rows need not sum to 1).
        alpha: ``None`` (no alpha factor), one number in [0, 1] for every class,
            or a sequence / 1-D tensor of C weights >= 0: alpha_k = alpha[k]
            (the usual way to up-weight rare classes).
        gamma: focusing exponent, any finite number >= 0.  Default 2.  A number
            (alpha or gamma) may also be a 0-d CPU tensor, read without a device sync.
        reduction: ``'none'`` (shape (N, d1, ...), 0 at ignored positions),
            ``'mean'`` (sum of weight * loss divided by the number of non-ignored
            positions (all positions for dense targets), or by ``normalizer``; alpha
            and weight not in the denominator; NaN when there are none) or ``'sum'``.
        ignore_index: keyword-only (as in :func:`sigmoid_focal_loss`): class-index
            positions whose target equals it contribute 0 loss and 0 gradient.  Default -100.
        weight: keyword-only; a floating tensor broadcastable to the loss of
            ``reduction='none'``, (N, d1, ...): one weight per position, read in place;
            no gradient flows to it (see :func:`sigmoid_focal_loss`).  Per-class weights
            are ``alpha``.
        normalizer: keyword-only, 'mean' only: what the summed loss is divided by, a
            number >= 0 or a 0-d tensor on the inputs' device, read on the device (see
            :func:`sigmoid_focal_loss` for a normalizer of 0).
        label_smoothing: keyword-only, in [0, 1]: the target distribution becomes
            (1 - label_smoothing) * onehot(k) + label_smoothing / C (also applied to dense
            targets, as ``F.cross_entropy`` does).  Default 0.

    Returns:
        The loss: float32 for float16 / bfloat16 inputs under ``torch.autocast``,
        else the dtype of ``inputs``.
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
