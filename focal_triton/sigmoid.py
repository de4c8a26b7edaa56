"""Binary (sigmoid) focal loss: functional and nn.Module forms."""

from collections.abc import Sequence

import torch
from torch import Tensor

from . import reference
from ._class_walk import gradient_like, loss_like_gradient, sigmoid_focal_index_forward
from ._elementwise import sigmoid_focal_forward
from ._options import BinaryOptions
from ._registry import LossSpec, RegisteredLoss, per_element_loss, same_shape_grad
from ._validation import (
    Reduction,
    check_activated,
    check_binary_alpha,
    check_label_smoothing,
    check_loss_options,
    check_poly_epsilon,
    check_pos_weight_value,
    check_sigmoid_args,
    check_sigmoid_index_args,
    class_weights_buffer,
    is_class_index_form,
    scalar_value,
)

_same_shape = RegisteredLoss(
    LossSpec(
        name="sigmoid_focal_loss",
        options=BinaryOptions,
        launch=sigmoid_focal_forward,
        reference=reference.sigmoid_focal_checked,
        empty_loss=per_element_loss,
        empty_grad=same_shape_grad,
    )
)
_class_index = RegisteredLoss(
    LossSpec(
        name="sigmoid_focal_index_loss",
        options=BinaryOptions,
        launch=sigmoid_focal_index_forward,
        reference=reference.sigmoid_focal_index_checked,
        empty_loss=loss_like_gradient,
        empty_grad=gradient_like,
    )
)


def sigmoid_focal_loss(
    inputs: Tensor,
    targets: Tensor,
    alpha: float | Sequence[float] | Tensor | None = 0.25,
    gamma: float | Tensor = 2.0,
    reduction: Reduction = "none",
    *,
    ignore_index: int = -100,
    weight: Tensor | None = None,
    normalizer: float | Tensor | None = None,
    label_smoothing: float = 0.0,
    pos_weight: float | Tensor | None = None,
    activated: bool = False,
    poly_epsilon: float = 0.0,
) -> Tensor:
    """Focal loss of Lin et al. (2017) for binary (sigmoid) classification.

    A drop-in replacement for ``torchvision.ops.sigmoid_focal_loss`` computed by
    one fused Triton kernel that also writes the gradient, stable for every logit.

    loss = weight * alpha_t * (1 - p_t) ** gamma * BCEWithLogits(inputs, targets), with
    p = sigmoid(inputs), p_t = p * t + (1 - p) * (1 - t) and
    alpha_t = alpha * t + (1 - alpha) * (1 - t).

    Args:
        inputs: logits of any shape, float32, float16, bfloat16 or float64;
            contiguous or not.  Math runs in float32 (float64 for float64 inputs).
        targets: either the shape of ``inputs``: floating (soft labels in [0, 1];
            a value outside gives NaN loss and gradient there), or labels of dtype
            bool, uint8, int32 or int64 (nonzero is positive; labels equal to
            ``ignore_index`` are ignored), read in their own dtype, never copied to
            float; or, for ``inputs`` of shape (N, C, d1, ...), integer class indices
            (int64, int32, uint8) of shape (N, d1, ...): an implicit one-hot over C (the
            RetinaNet / FCOS head).  The shapes decide: targets with one dim fewer than
            ``inputs`` are class indices.  A class index in [0, C) marks that class
            positive, C or any other value outside [0, C) means background (every class
            negative), and ``ignore_index`` positions contribute nothing.  No one-hot
            tensor is built.
        alpha: weight of the positive class in [0, 1]; negatives get 1 - alpha.
            ``None`` or a negative number drops the alpha_t factor (as torchvision).
            Or one value in [0, 1] per class along dim 1 of (N, C, ...) inputs (a
            sequence, or a 1-D tensor on the inputs' device, whose values are not
            read on the host; mmsegmentation's per-class alpha).  Default 0.25.
        gamma: focusing exponent, any finite number >= 0 (alpha and gamma may also be
            0-d CPU tensors, read without a device sync); 0 gives plain
            (alpha-weighted) BCE with logits.  Default 2.
        reduction: ``'none'`` (loss of each element, shape of ``inputs``, 0 at
            ignored positions), ``'mean'`` (sum of weight * loss over the number of
            non-ignored elements, or over ``normalizer``; NaN when there are no elements)
            or ``'sum'``.  Reductions accumulate in float32 in a fixed order.
        ignore_index: keyword-only; integer labels and class-index targets: positions
            with this target contribute 0 loss and 0 gradient and leave the 'mean'
            denominator.  Default -100.
        weight: keyword-only; a floating tensor broadcastable to the loss of
            ``reduction='none'`` (the shape of ``inputs``), e.g. (N, 1) per anchor, or
            (C, 1, 1) per class of (N, C, H, W) maps, on the inputs' device.  It
            multiplies each element's loss and gradient and is read in place through
            its strides (a broadcast view is never expanded).  Negative or non-finite
            weights are the caller's business.  No gradient flows to it.
        normalizer: keyword-only, ``reduction='mean'`` only; a number >= 0 or a 0-d
            tensor on the inputs' device (mmdet's ``avg_factor``, the number of
            positives; DETR's ``num_boxes``): the loss is ``sum(weight * loss) /
            normalizer``, read on the device (no ``.item()``).  A normalizer of 0 gives
            what dividing by 0 gives (inf, or NaN for 0 / 0, in loss and gradient), as
            ``loss.sum() / 0`` in eager PyTorch: clamp it first, as mmdet
            (``max(avg_factor, 1)``) and DETR (``num_boxes.clamp(min=1)``) do.
        label_smoothing: keyword-only, in [0, 1]: targets become
            ``t * (1 - label_smoothing) + label_smoothing / 2``.  Default 0.
        pos_weight: keyword-only; a number or a floating tensor broadcastable to
            ``inputs`` (e.g. (C,) for (N, C) logits) weighting the positive term of the
            BCE as in ``F.binary_cross_entropy_with_logits``:
            ce = pos_weight * t * softplus(-x) + (1 - t) * softplus(x).
        activated: keyword-only; ``True``: ``inputs`` are probabilities in [0, 1]
            (mmdet's ``activated=True``, YOLOv6, PP-YOLOE, TOOD), the BCE is
            ``F.binary_cross_entropy``'s, whose logarithms are clamped to >= -100 and
            whose gradient divides by max(p (1 - p), 1e-12); the gradient is with respect
            to the probabilities.  A probability outside [0, 1] gives NaN there.
            ``pos_weight`` does not apply.  Default False.
        poly_epsilon: keyword-only; the Poly-1 coefficient eps (Leng et al. 2022, PolyLoss), a
            finite number of either sign (the paper uses -1 for detection): the loss becomes
            ``weight * alpha_t * (1 - p_t) ** gamma * (BCE + eps * (1 - p_t))``, timm's
            ``PolyBinaryCrossEntropy`` (alpha_t weighs both terms).  Not with ``pos_weight``.
            Default 0 (the focal loss).

    Returns:
        The loss: float32 for float16 / bfloat16 inputs under ``torch.autocast``,
        else the dtype of ``inputs``.
    """
    options = (
        alpha,
        gamma,
        reduction,
        ignore_index,
        weight,
        normalizer,
        label_smoothing,
        pos_weight,
        activated,
        poly_epsilon,
    )
    if is_class_index_form(inputs, targets):
        return _class_index(inputs, targets, check_sigmoid_index_args(inputs, targets, *options))
    return _same_shape(inputs, targets, check_sigmoid_args(inputs, targets, *options))


class SigmoidFocalLoss(torch.nn.Module):
    """Module form of :func:`sigmoid_focal_loss`; note the default reduction is ``'mean'``.
    ``forward(inputs, targets, weight=None, normalizer=None)`` takes the per-call options (as
    mmdet's ``loss(pred, target, weight, avg_factor)``).  A per-class ``alpha`` or a tensor
    ``pos_weight`` is kept as a buffer, so it follows the module across ``.to(device)``."""

    def __init__(
        self,
        alpha: float | Sequence[float] | Tensor | None = 0.25,
        gamma: float | Tensor = 2.0,
        reduction: Reduction = "mean",
        ignore_index: int = -100,
        *,
        label_smoothing: float = 0.0,
        pos_weight: float | Tensor | None = None,
        activated: bool = False,
        poly_epsilon: float = 0.0,
    ) -> None:
        super().__init__()
        check_loss_options(gamma, reduction, ignore_index)
        self.label_smoothing = check_label_smoothing(label_smoothing)
        self.activated = check_activated(activated)
        alpha = scalar_value("alpha", alpha)
        if isinstance(alpha, (list, tuple, torch.Tensor)):
            self.register_buffer("alpha", class_weights_buffer(alpha, "alpha", unit=True))
        else:
            check_binary_alpha(alpha)
            self.alpha = alpha
        pos_weight = check_pos_weight_value(pos_weight, self.activated)
        if isinstance(pos_weight, torch.Tensor):
            self.register_buffer("pos_weight", pos_weight.detach())
        else:
            self.pos_weight = pos_weight
        self.gamma, self.reduction, self.ignore_index = gamma, reduction, ignore_index
        self.poly_epsilon = check_poly_epsilon(poly_epsilon, pos_weight is not None)

    def forward(
        self, inputs: Tensor, targets: Tensor, weight: Tensor | None = None, normalizer: float | Tensor | None = None
    ) -> Tensor:
        return sigmoid_focal_loss(
            inputs,
            targets,
            self.alpha,
            self.gamma,
            self.reduction,
            ignore_index=self.ignore_index,
            weight=weight,
            normalizer=normalizer,
            label_smoothing=self.label_smoothing,
            pos_weight=self.pos_weight,
            activated=self.activated,
            poly_epsilon=self.poly_epsilon,
        )

    def extra_repr(self) -> str:
        alpha = "per-class" if isinstance(self.alpha, torch.Tensor) else self.alpha
        return (
            f"alpha={alpha}, gamma={self.gamma}, reduction={self.reduction!r}, ignore_index={self.ignore_index}, "
            f"label_smoothing={self.label_smoothing}, activated={self.activated}, poly_epsilon={self.poly_epsilon}"
        )
