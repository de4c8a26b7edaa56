"""Binary (sigmoid) focal loss: functional and nn.Module forms."""

from collections.abc import Sequence

import torch
from torch import Tensor

from . import reference
from ._class_walk import gradient_like, loss_like_gradient, sigmoid_focal_index_forward
from ._elementwise import sigmoid_focal_forward
from ._options import BinaryOptions
from ._registry import LossSpec, RegisteredLoss, per_element_loss, same_shape_grad
from ._stacked import stacked_inputs, stacked_result
from ._validation import (
    Reduction,
    check_activated,
    check_binary_alpha,
    check_bool,
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
    stacked: bool = False,
) -> Tensor:
    """Focal loss of Lin et al. (2017) for binary (sigmoid) classification, with its gradient in
    the same fused kernel: a drop-in for ``torchvision.ops.sigmoid_focal_loss``.

    loss = weight * alpha_t * (1 - p_t) ** gamma * BCEWithLogits(inputs, targets), with
    p = sigmoid(inputs), p_t = p * t + (1 - p) * (1 - t), alpha_t = alpha * t + (1 - alpha) * (1 - t).
    Every option, exactly: docs/semantics.md.

    Args:
        inputs: logits of any shape and strides; float32, float16, bfloat16 or float64.
        targets: the shape of ``inputs`` (soft targets in [0, 1], or bool / integer labels:
            nonzero is positive), or for (N, C, d1, ...) logits class indices (N, d1, ...):
            an implicit one-hot, C or any index outside [0, C) background.
        alpha: weight of the positives in [0, 1] (negatives: 1 - alpha); ``None`` or < 0: no
            alpha factor; or one value per class of dim 1.  Default 0.25.
        gamma: focusing exponent >= 0.  Default 2.
        reduction: ``'none'``, ``'mean'`` (over the non-ignored elements, or ``normalizer``)
            or ``'sum'``; fixed-order float32 sums.
        ignore_index: integer targets equal to it give 0 loss and gradient and leave the
            'mean' denominator.  Default -100.
        weight: a floating tensor broadcastable to the 'none' loss (e.g. (N, 1) per anchor),
            read in place; no gradient flows to it.
        normalizer: with 'mean' only, a number or a 0-d device tensor the summed loss is
            divided by (mmdet's ``avg_factor``, DETR's ``num_boxes``), read on the device.
        label_smoothing: in [0, 1]; targets become t * (1 - ls) + ls / 2.  Default 0.
        pos_weight: a number or a tensor broadcastable to ``inputs`` weighting the positive
            BCE term, as in ``F.binary_cross_entropy_with_logits``.
        activated: ``inputs`` are probabilities, with ``F.binary_cross_entropy``'s clamps
            (mmdet's ``activated=True``).  Default False.
        poly_epsilon: the Poly-1 coefficient (Leng et al. 2022): the BCE becomes
            BCE + eps * (1 - p_t), timm's ``PolyBinaryCrossEntropy``.  Default 0.
        stacked: ``inputs`` are L sets of R rows stacked as (L, R, C) (a DETR's decoder layers)
            with class indices (L, R); 'mean' / 'sum' give the (L,) losses of the sets from one
            launch, each equal to the call on its set; ``normalizer`` may be (L,), one a set;
            ``weight`` / ``pos_weight`` broadcast to (L, R, C).  Default False.

    Returns:
        The loss: float32 for float16 / bfloat16 inputs under ``torch.autocast``, else the dtype
        of ``inputs``.
    """
    inputs, weight, pos_weight = stacked_inputs(stacked, inputs, targets, weight=weight, pos_weight=pos_weight)
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
    if is_class_index_form(inputs, targets):  # stacked sets always are (their (L, C, R) view)
        loss = _class_index(inputs, targets, check_sigmoid_index_args(inputs, targets, *options, stacked=stacked))
        return stacked_result(loss, stacked, reduction)
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
        stacked: bool = False,
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
        self.stacked = check_bool("stacked", stacked)

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
            stacked=self.stacked,
        )

    def extra_repr(self) -> str:
        alpha = "per-class" if isinstance(self.alpha, torch.Tensor) else self.alpha
        return (
            f"alpha={alpha}, gamma={self.gamma}, reduction={self.reduction!r}, ignore_index={self.ignore_index}, "
            f"label_smoothing={self.label_smoothing}, activated={self.activated}, poly_epsilon={self.poly_epsilon}, "
            f"stacked={self.stacked}"
        )
