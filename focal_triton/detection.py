"""The focal-loss family of today's detectors: varifocal, matchability-aware, IoU-aware BCE, quality
focal and distribution focal loss, functional and nn.Module forms, each a fused kernel writing loss and
gradient in one pass."""

from collections.abc import Callable

import torch
from torch import Tensor

from . import reference
from ._class_walk import gradient_like, loss_like_gradient, sigmoid_focal_index_forward, softmax_focal_forward
from ._elementwise import sigmoid_focal_forward
from ._options import BinaryOptions, SoftmaxOptions
from ._registry import LossSpec, RegisteredLoss, per_element_loss, per_row_loss, same_shape_grad
from ._stacked import stacked_inputs, stacked_result
from ._validation import (
    Reduction,
    check_bool,
    check_distribution_focal_args,
    check_ia_bce_alpha,
    check_ia_bce_args,
    check_ignore_index,
    check_loss_options,
    check_matchability_aware_args,
    check_matchability_gamma,
    check_nonnegative,
    check_quality_focal_args,
    check_reduction,
    check_varifocal_args,
)


def _scored_losses(name: str, reference_checked: Callable) -> tuple[RegisteredLoss, RegisteredLoss]:
    """The two registrations of a loss of VFL's target forms: against soft targets of the logits'
    shape (the element-wise kernel) and against class indices with scores (the class walk)."""
    return (
        RegisteredLoss(
            LossSpec(
                name=name,
                options=BinaryOptions,
                launch=sigmoid_focal_forward,
                reference=reference_checked,
                empty_loss=per_element_loss,
                empty_grad=same_shape_grad,
            )
        ),
        RegisteredLoss(
            LossSpec(
                name=name.replace("_loss", "_index_loss"),
                options=BinaryOptions,
                launch=sigmoid_focal_index_forward,
                reference=reference_checked,
                empty_loss=loss_like_gradient,
                empty_grad=gradient_like,
            )
        ),
    )


_varifocal, _varifocal_index = _scored_losses("varifocal_loss", reference.varifocal_checked)
_matchability_aware, _matchability_aware_index = _scored_losses(
    "matchability_aware_loss", reference.matchability_aware_checked
)
_ia_bce, _ia_bce_index = _scored_losses("ia_bce_loss", reference.ia_bce_checked)
_quality_focal = RegisteredLoss(
    LossSpec(
        name="quality_focal_loss",
        options=BinaryOptions,
        launch=sigmoid_focal_index_forward,
        reference=reference.quality_focal_checked,
        empty_loss=per_row_loss,
        empty_grad=gradient_like,
        row_broadcast=True,
    )
)
_distribution_focal = RegisteredLoss(
    LossSpec(
        name="distribution_focal_loss",
        options=SoftmaxOptions,
        launch=softmax_focal_forward,
        reference=reference.distribution_focal_checked,
        empty_loss=per_row_loss,
        empty_grad=gradient_like,
        row_broadcast=True,
    )
)


def varifocal_loss(
    inputs: Tensor,
    targets: Tensor,
    alpha: float = 0.75,
    gamma: float = 2.0,
    reduction: Reduction = "mean",
    *,
    scores: Tensor | None = None,
    detach_weight: bool = False,
    ignore_index: int = -100,
    weight: Tensor | None = None,
    normalizer: float | Tensor | None = None,
    stacked: bool = False,
) -> Tensor:
    """Varifocal loss (Zhang et al. 2021, VarifocalNet), as mmdet, RT-DETR / D-FINE and ultralytics
    compute it, in one fused kernel with its gradient.

    With s = sigmoid(inputs) and q the soft target (the IoU at the assigned class, 0 elsewhere):
    loss = BCEWithLogits(inputs, q) * w, w = q at a positive and alpha * s ** gamma elsewhere.

    Args:
        inputs: logits, float32 / float16 / bfloat16 (float64).  Any shape with soft
            ``targets``; (N, C, d1, ...) with class-index ``targets`` (e.g. a DETR head's
            (B, Q, C) logits as ``logits.view(-1, C)``).
        targets: soft targets q in [0, 1] of the shape of ``inputs`` (mmdet's form: positives are
            the elements with q > 0); or integer class indices (N, d1, ...) with ``scores``, the
            IoU of each row's class (RT-DETR / ultralytics: the row's class is positive, even
            where its score is 0; C or any index outside [0, C) is background, ``ignore_index``
            positions contribute nothing).  No one-hot tensor is built.  A target or score
            outside [0, 1] gives NaN there.
        alpha: weight of the negatives' modulating factor, a number >= 0.  Default 0.75.
        gamma: exponent of s in it, >= 0.  Default 2.
        reduction: ``'none'`` (the shape of ``inputs``), ``'mean'`` (sum of weight * loss over the
            number of elements, C per non-ignored row with class indices, or over ``normalizer``),
            ``'sum'``.
        scores: keyword-only; with class-index ``targets``, a floating tensor of their shape.
        detach_weight: keyword-only; ``False`` (mmdet, ultralytics): the gradient flows through
            alpha * s ** gamma; ``True`` (RT-DETR / D-FINE, which pass the weight to
            ``F.binary_cross_entropy_with_logits(weight=...)``): it does not.
        ignore_index: keyword-only, as in :func:`sigmoid_focal_loss`.
        weight: keyword-only, broadcastable to the 'none' loss.
        normalizer: keyword-only, with 'mean' only (e.g. DETR's num_boxes).
        stacked: keyword-only; (L, R, C) logits of L stacked sets with (L, R) class indices and
            scores: the (L,) losses from one launch (see :func:`sigmoid_focal_loss`).

    Returns:
        The loss: float32 for float16 / bfloat16 inputs under ``torch.autocast``, else the dtype
        of ``inputs``.
    """
    inputs, weight = stacked_inputs(stacked, inputs, targets, weight=weight)
    index_form, options = check_varifocal_args(
        inputs, targets, alpha, gamma, reduction, scores, detach_weight, ignore_index, weight, normalizer, stacked
    )
    loss = (_varifocal_index if index_form else _varifocal)(inputs, targets, options)
    return stacked_result(loss, stacked, reduction)


def matchability_aware_loss(
    inputs: Tensor,
    targets: Tensor,
    gamma: float = 1.5,
    alpha: float | None = None,
    reduction: Reduction = "mean",
    *,
    scores: Tensor | None = None,
    ignore_index: int = -100,
    weight: Tensor | None = None,
    normalizer: float | Tensor | None = None,
    stacked: bool = False,
) -> Tensor:
    """Matchability-aware loss (Huang et al. 2025, DEIM ``loss_labels_mal``), in one fused kernel
    with its gradient.

    With s = sigmoid(inputs) and q the matched class's IoU: target q ** gamma and weight 1 at the
    matched class; target 0 and weight alpha * s ** gamma (detached) elsewhere;
    loss = BCEWithLogits(inputs, target) * weight.  DEIM's ``.mean(1).sum() * Q / num_boxes`` is
    ``reduction="mean", normalizer=num_boxes``.

    Args:
        inputs: logits, float32 / float16 / bfloat16 (float64); (N, C, d1, ...) with class-index
            ``targets`` (a DETR head's (B, Q, C) logits as ``logits.view(-1, C)``), any shape with
            dense ones.
        targets: class indices (N, d1, ...) with ``scores`` (C or outside [0, C): unmatched), or
            dense targets q of the logits' shape (matched where q > 0).  q outside [0, 1]: NaN there.
        gamma: exponent of the target and of the negatives' weight, > 0.  Default 1.5 (DEIM's
            configs; its criterion's own default is 2).
        alpha: the negatives' factor, DEIM's ``mal_alpha``; None: 1.  Default None.
        reduction: ``'none'``, ``'mean'`` (over the elements, or ``normalizer``) or ``'sum'``.
        scores: keyword-only; with class-index ``targets``, the IoU of each row (its shape).
        ignore_index: keyword-only, as in :func:`varifocal_loss`.
        weight: keyword-only, broadcastable to the 'none' loss.
        normalizer: keyword-only, with 'mean' only (DEIM's num_boxes).
        stacked: keyword-only, as in :func:`varifocal_loss`.

    Returns:
        The loss, dtype as :func:`varifocal_loss`.
    """
    inputs, weight = stacked_inputs(stacked, inputs, targets, weight=weight)
    index_form, options = check_matchability_aware_args(
        inputs, targets, gamma, alpha, reduction, scores, ignore_index, weight, normalizer, stacked
    )
    loss = (_matchability_aware_index if index_form else _matchability_aware)(inputs, targets, options)
    return stacked_result(loss, stacked, reduction)


def ia_bce_loss(
    inputs: Tensor,
    targets: Tensor,
    alpha: float = 0.25,
    gamma: float = 2.0,
    reduction: Reduction = "sum",
    *,
    scores: Tensor | None = None,
    ignore_index: int = -100,
    weight: Tensor | None = None,
    normalizer: float | Tensor | None = None,
    stacked: bool = False,
) -> Tensor:
    """IoU-aware BCE (RF-DETR / LW-DETR ``loss_labels`` with ``ia_bce_loss=True``), in one fused
    kernel with its gradient.

    With s = sigmoid(inputs) and q the matched class's IoU: at the matched class BCE(inputs, t),
    t = max(s ** alpha * q ** (1 - alpha), 0.01) detached; elsewhere s ** gamma * softplus(inputs),
    the gradient flowing through s ** gamma.  RF-DETR's ``loss.sum() / num_boxes`` is
    ``reduction="mean", normalizer=num_boxes``.

    Args:
        inputs: logits, float32 / float16 / bfloat16 (float64); (N, C, d1, ...) with class-index
            ``targets`` (a DETR head's (B, Q, C) logits as ``logits.view(-1, C)``), any shape with
            dense ones.
        targets: class indices (N, d1, ...) with ``scores`` (C or outside [0, C): unmatched), or
            dense targets q of the logits' shape (matched where q > 0).  q outside [0, 1]: NaN there.
        alpha: exponent of s in the matched target, in [0, 1] (RF-DETR's ``focal_alpha``).
            Default 0.25.
        gamma: exponent of the negatives' weight s ** gamma, >= 0.  Default 2 (RF-DETR's).
        reduction: ``'none'``, ``'mean'`` (over the elements, or ``normalizer``) or ``'sum'``
            (the default).
        scores: keyword-only; with class-index ``targets``, the IoU of each row (its shape).
        ignore_index: keyword-only, as in :func:`varifocal_loss`.
        weight: keyword-only, broadcastable to the 'none' loss.
        normalizer: keyword-only, with 'mean' only (RF-DETR's num_boxes).
        stacked: keyword-only, as in :func:`varifocal_loss`.

    Returns:
        The loss, dtype as :func:`varifocal_loss`.
    """
    inputs, weight = stacked_inputs(stacked, inputs, targets, weight=weight)
    index_form, options = check_ia_bce_args(
        inputs, targets, alpha, gamma, reduction, scores, ignore_index, weight, normalizer, stacked
    )
    loss = (_ia_bce_index if index_form else _ia_bce)(inputs, targets, options)
    return stacked_result(loss, stacked, reduction)


def quality_focal_loss(
    inputs: Tensor,
    targets: Tensor,
    beta: float = 2.0,
    reduction: Reduction = "mean",
    *,
    scores: Tensor | None = None,
    ignore_index: int = -100,
    activated: bool = False,
    weight: Tensor | None = None,
    normalizer: float | Tensor | None = None,
) -> Tensor:
    """Quality focal loss (Li et al. 2020, GFL), as mmdet's ``QualityFocalLoss`` computes it, in one
    fused kernel with its gradient.

    With s = sigmoid(inputs) and y the quality target (the score at the row's class, 0 elsewhere):
    loss_row = sum over classes of BCEWithLogits(inputs, y) * |y - s| ** beta (negatives give
    BCE(x, 0) * s ** beta); the gradient flows through |y - s| ** beta.

    Args:
        inputs: (N, C) or (N, C, d1, ...) logits (probabilities with ``activated``).
        targets: integer class indices (N, d1, ...) with ``scores`` (mmdet's (label, score)
            target; C or outside [0, C) = background, ``ignore_index`` rows give 0), or soft
            targets of the shape of ``inputs`` (mmdet's ``quality_focal_loss_tensor_target``).
            A target or score outside [0, 1] gives NaN there.
        beta: exponent >= 0.  Default 2.
        reduction: ``'none'`` gives one value per row, (N, d1, ...), summed over the classes as
            mmdet does; ``'mean'`` is over the non-ignored rows (or ``normalizer``); ``'sum'``.
        activated: keyword-only; ``True``: ``inputs`` are probabilities (TOOD), with
            ``F.binary_cross_entropy``'s clamps (see :func:`sigmoid_focal_loss`).
        scores: as in :func:`varifocal_loss`.
        ignore_index: as in :func:`varifocal_loss`.
        normalizer: as in :func:`varifocal_loss`.
        weight: keyword-only; broadcastable to the per-row loss (N, d1, ...) (mmdet's weight (N,)).

    Returns:
        The loss, dtype as :func:`varifocal_loss`.
    """
    options = check_quality_focal_args(
        inputs, targets, beta, reduction, scores, ignore_index, activated, weight, normalizer
    )
    return _quality_focal(inputs, targets, options)


def distribution_focal_loss(
    inputs: Tensor,
    targets: Tensor,
    reduction: Reduction = "mean",
    *,
    weight: Tensor | None = None,
    normalizer: float | Tensor | None = None,
) -> Tensor:
    """Distribution focal loss (Li et al. 2020, GFL; YOLOv8 / YOLO11 / YOLOv6 / D-FINE box
    regression), as mmdet's ``distribution_focal_loss``, in one fused kernel with its gradient.

    With l = floor(y), r = l + 1: loss_row = CE(inputs, l) * (r - y) + CE(inputs, r) * (y - l),
    the softmax cross-entropy against a two-hot target (gradient softmax - twohot).

    Args:
        inputs: (N, n + 1) or (N, n + 1, d1, ...) logits over n + 1 >= 2 bins.
        targets: floating distances y of shape (N,) or (N, d1, ...) in [0, n].  At y = n the
            target is the one-hot of bin n (the formula's limit; mmdet's code would index bin
            n + 1 there, so its callers keep y <= n - 0.01); ultralytics clamps y to
            [0, n - 0.01]: pass ``targets.clamp(0, n - 0.01)`` for its numbers.  A distance
            outside [0, n] (or NaN) gives NaN in that row.
        reduction: ``'none'`` (one value per row, (N, d1, ...)), ``'mean'`` (over the rows, or
            ``normalizer``), ``'sum'``.
        weight: keyword-only, as in :func:`quality_focal_loss`.
        normalizer: keyword-only, as in :func:`quality_focal_loss`.

    Returns:
        The loss, dtype as :func:`varifocal_loss`.
    """
    options = check_distribution_focal_args(inputs, targets, reduction, weight, normalizer)
    return _distribution_focal(inputs, targets, options)


class VarifocalLoss(torch.nn.Module):
    """Module form of :func:`varifocal_loss`; ``forward(inputs, targets, scores=None, weight=None,
    normalizer=None)``."""

    def __init__(
        self,
        alpha: float = 0.75,
        gamma: float = 2.0,
        reduction: Reduction = "mean",
        *,
        detach_weight: bool = False,
        ignore_index: int = -100,
        stacked: bool = False,
    ) -> None:
        super().__init__()
        check_loss_options(gamma, reduction, ignore_index)
        self.alpha, self.gamma, self.reduction = check_nonnegative("alpha", alpha), gamma, reduction
        self.detach_weight, self.ignore_index = check_bool("detach_weight", detach_weight), ignore_index
        self.stacked = check_bool("stacked", stacked)

    def extra_repr(self) -> str:
        return (
            f"alpha={self.alpha}, gamma={self.gamma}, reduction={self.reduction!r}, "
            f"detach_weight={self.detach_weight}, ignore_index={self.ignore_index}, stacked={self.stacked}"
        )

    def forward(
        self,
        inputs: Tensor,
        targets: Tensor,
        scores: Tensor | None = None,
        weight: Tensor | None = None,
        normalizer: float | Tensor | None = None,
    ) -> Tensor:
        return varifocal_loss(
            inputs,
            targets,
            self.alpha,
            self.gamma,
            self.reduction,
            scores=scores,
            detach_weight=self.detach_weight,
            ignore_index=self.ignore_index,
            weight=weight,
            normalizer=normalizer,
            stacked=self.stacked,
        )


class MatchabilityAwareLoss(torch.nn.Module):
    """Module form of :func:`matchability_aware_loss`; ``forward(inputs, targets, scores=None,
    weight=None, normalizer=None)``."""

    def __init__(
        self,
        gamma: float = 1.5,
        alpha: float | None = None,
        reduction: Reduction = "mean",
        *,
        ignore_index: int = -100,
        stacked: bool = False,
    ) -> None:
        super().__init__()
        check_reduction(reduction)
        self.gamma, self.reduction = check_matchability_gamma(gamma), reduction
        self.alpha = None if alpha is None else check_nonnegative("alpha", alpha)
        self.ignore_index, self.stacked = check_ignore_index(ignore_index), check_bool("stacked", stacked)

    def extra_repr(self) -> str:
        return (
            f"gamma={self.gamma}, alpha={self.alpha}, reduction={self.reduction!r}, ignore_index={self.ignore_index}, "
            f"stacked={self.stacked}"
        )

    def forward(
        self,
        inputs: Tensor,
        targets: Tensor,
        scores: Tensor | None = None,
        weight: Tensor | None = None,
        normalizer: float | Tensor | None = None,
    ) -> Tensor:
        return matchability_aware_loss(
            inputs,
            targets,
            self.gamma,
            self.alpha,
            self.reduction,
            scores=scores,
            ignore_index=self.ignore_index,
            weight=weight,
            normalizer=normalizer,
            stacked=self.stacked,
        )


class IABCELoss(torch.nn.Module):
    """Module form of :func:`ia_bce_loss`; ``forward(inputs, targets, scores=None, weight=None,
    normalizer=None)``."""

    def __init__(
        self,
        alpha: float = 0.25,
        gamma: float = 2.0,
        reduction: Reduction = "sum",
        *,
        ignore_index: int = -100,
        stacked: bool = False,
    ) -> None:
        super().__init__()
        check_loss_options(gamma, reduction, ignore_index)
        self.alpha = check_ia_bce_alpha(alpha)
        self.gamma, self.reduction, self.ignore_index = float(gamma), reduction, ignore_index
        self.stacked = check_bool("stacked", stacked)

    def extra_repr(self) -> str:
        return (
            f"alpha={self.alpha}, gamma={self.gamma}, reduction={self.reduction!r}, ignore_index={self.ignore_index}, "
            f"stacked={self.stacked}"
        )

    def forward(
        self,
        inputs: Tensor,
        targets: Tensor,
        scores: Tensor | None = None,
        weight: Tensor | None = None,
        normalizer: float | Tensor | None = None,
    ) -> Tensor:
        return ia_bce_loss(
            inputs,
            targets,
            self.alpha,
            self.gamma,
            self.reduction,
            scores=scores,
            ignore_index=self.ignore_index,
            weight=weight,
            normalizer=normalizer,
            stacked=self.stacked,
        )


class QualityFocalLoss(torch.nn.Module):
    """Module form of :func:`quality_focal_loss`; ``forward(inputs, targets, scores=None, weight=None,
    normalizer=None)``."""

    def __init__(
        self, beta: float = 2.0, reduction: Reduction = "mean", *, activated: bool = False, ignore_index: int = -100
    ) -> None:
        super().__init__()
        check_reduction(reduction)
        self.beta, self.reduction = check_nonnegative("beta", beta), reduction
        self.activated, self.ignore_index = check_bool("activated", activated), check_ignore_index(ignore_index)

    def extra_repr(self) -> str:
        return (
            f"beta={self.beta}, reduction={self.reduction!r}, activated={self.activated}, "
            f"ignore_index={self.ignore_index}"
        )

    def forward(
        self,
        inputs: Tensor,
        targets: Tensor,
        scores: Tensor | None = None,
        weight: Tensor | None = None,
        normalizer: float | Tensor | None = None,
    ) -> Tensor:
        return quality_focal_loss(
            inputs,
            targets,
            self.beta,
            self.reduction,
            scores=scores,
            ignore_index=self.ignore_index,
            activated=self.activated,
            weight=weight,
            normalizer=normalizer,
        )


class DistributionFocalLoss(torch.nn.Module):
    """Module form of :func:`distribution_focal_loss`; ``forward(inputs, targets, weight=None,
    normalizer=None)``."""

    def __init__(self, reduction: Reduction = "mean") -> None:
        super().__init__()
        check_reduction(reduction)
        self.reduction = reduction

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"

    def forward(
        self, inputs: Tensor, targets: Tensor, weight: Tensor | None = None, normalizer: float | Tensor | None = None
    ) -> Tensor:
        return distribution_focal_loss(inputs, targets, self.reduction, weight=weight, normalizer=normalizer)
