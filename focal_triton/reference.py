"""Plain eager PyTorch implementations of the focal_triton API.

``sigmoid_focal_loss``, ``softmax_focal_loss``, ``varifocal_loss``,
``quality_focal_loss`` and ``distribution_focal_loss`` are the CPU fallback (used
when Triton cannot run the tensor; their ``*_checked`` forms take the already
checked, kernel-ready options) with the same semantics and input contract as
the focal_triton functions of those names.  They are written in log space so
that autograd's gradient stays finite where the textbook formula gives NaN.

The fallbacks compute in float64 (the eager baselines the benchmark times are
``focal_triton.perf.baselines``).
"""

from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from focal_triton.kernels.limits import BIG, CLAMPED_LOG_P

from ._dtypes import ignore_index_applies, loss_dtype_for
from ._options import BinaryOptions, LossOptions, SoftmaxOptions
from ._stacked import stacked_inputs, stacked_result
from ._validation import (
    Reduction,
    check_distribution_focal_args,
    check_ia_bce_args,
    check_matchability_aware_args,
    check_matching_cost_args,
    check_quality_focal_args,
    check_sigmoid_args,
    check_sigmoid_index_args,
    check_softmax_args,
    check_varifocal_args,
    is_class_index_form,
)

# The reference's stand-in for an infinite logit, the kernels' BIG: every probability and gradient
# term has reached its limit long before it (the kernels take the infinite logit as it is).
BIG_LOGIT = BIG
LOW_LOGIT = -BIG_LOGIT  # a constant of its own: negated inside a traced function it would be a graph node


def _upcast(inputs: Tensor) -> Tensor:
    """float64 math: at a clamped infinite logit (3e38) products such as gamma * ce of the
    backward stay finite, where float32 would overflow to inf and meet a 0 (NaN)."""
    return inputs.double()


class _ClampPassingGradient(torch.autograd.Function):
    """x.clamp(low, high) whose gradient passes through unchanged: the formula's gradient at
    the clamp bound, which is its limit there, reaches an infinite value (a plain clamp would give 0)."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, low: float | None, high: float | None) -> Tensor:
        return x.clamp(low, high)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None, None]:
        return grad, None, None


def _implicit_one_hot(inputs: Tensor, targets: Tensor, ignore_index: int) -> tuple[Tensor, Tensor]:
    """(N, C, *) float one-hot of class indices (outside [0, C) = background) and the (N, 1, *) kept mask."""
    classes = torch.arange(inputs.shape[1], device=inputs.device).view(1, -1, *([1] * (inputs.dim() - 2)))
    wide = targets.to(torch.int64).unsqueeze(1)
    return (wide == classes).to(_upcast(inputs).dtype), wide != ignore_index


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
    """Eager sigmoid focal loss; same arguments and result as focal_triton.sigmoid_focal_loss."""
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
        checked = check_sigmoid_index_args(inputs, targets, *options, stacked=stacked)
        return stacked_result(sigmoid_focal_index_checked(inputs, targets, checked), stacked, reduction)
    return sigmoid_focal_checked(inputs, targets, check_sigmoid_args(inputs, targets, *options))


def _binary_elementwise(x: Tensor, t: Tensor, options: BinaryOptions) -> Tensor:
    return _sigmoid_focal_elementwise(
        x,
        t,
        _alpha_or(options.alpha, options.alpha_per_class),
        options.gamma,
        options.label_smoothing,
        _alpha_or(options.pos_weight, options.pos_weight_tensor),
        options.activated,
        options.poly_epsilon,
    )


def sigmoid_focal_checked(inputs: Tensor, targets: Tensor, options: BinaryOptions) -> Tensor:
    """sigmoid_focal_loss with same-shape targets, arguments already checked (see _validation)."""
    x = _upcast(inputs)
    labels = not options.soft_targets
    t = (targets != 0).to(x.dtype) if labels else targets.to(x.dtype)
    kept = _labels_kept(targets, options.ignore_index) if labels else torch.ones_like(t, dtype=torch.bool)
    return _weighted_reduce(inputs, _binary_elementwise(x, t, options), kept, options, lambda total: total(kept))


def sigmoid_focal_index_checked(inputs: Tensor, targets: Tensor, options: BinaryOptions) -> Tensor:
    """sigmoid_focal_loss with class-index targets, arguments already checked."""
    t, kept = _implicit_one_hot(inputs, targets, options.ignore_index)
    loss = _binary_elementwise(_upcast(inputs), t, options)
    return _weighted_reduce(inputs, loss, kept, options, lambda total: total(kept) * inputs.shape[1])


def _labels_kept(labels: Tensor, ignore_index: int) -> Tensor:
    """Integer labels that are not ignore_index, compared as the kernels compare them
    (``ignore_index_applies``)."""
    if not ignore_index_applies(labels.dtype, ignore_index):
        return torch.ones_like(labels, dtype=torch.bool)
    return labels != ignore_index


def _nan_where(mask: Tensor, x: Tensor) -> Tensor:
    """NaN where ``mask`` (in loss and in gradient: it is x times NaN there), else 0 (gradient 0 too,
    whatever x is there): added to a loss."""
    return torch.where(mask, float("nan"), 0.0) * torch.where(mask, x, 0.0)


def _alpha_or(number: float | None, tensor: Tensor | None) -> float | Tensor | None:
    """A factor given as a number or a tensor (in float64), or None."""
    return tensor.double() if tensor is not None else number


def _weighted_reduce(
    inputs: Tensor,
    loss: Tensor,
    kept: Tensor,
    options: LossOptions,
    count: Callable[[Callable[[Tensor], Tensor]], Tensor | int],
) -> Tensor:
    """weight * loss (0 where not kept, whatever the weight or loss is there), reduced: 'mean' over
    the normalizer or ``count(total)``, ``total`` the sum the loss is reduced by (of everything, or
    of each stacked set: dim 0)."""
    loss = torch.where(kept, loss, 0.0)
    if options.weight is not None:
        loss = loss * torch.where(kept, options.weight.double(), 0.0)
    loss_dtype = loss_dtype_for(inputs)
    if not options.reduce:
        return loss.to(loss_dtype)
    total = _set_sums if options.reduced_shape(inputs) else torch.sum
    if options.reduction == "sum":
        return total(loss).to(loss_dtype)
    denominator: torch.Tensor | float | int
    if options.normalizer_tensor is not None:
        denominator = options.normalizer_tensor.double()
    else:
        denominator = count(total) if options.normalizer is None else options.normalizer
    return (total(loss) / denominator).to(loss_dtype)


def _set_sums(values: Tensor) -> Tensor:
    """The sum of each stacked set: over every dim but the first."""
    return values.flatten(1).sum(1)


class _ProbabilityBCE(torch.autograd.Function):
    """F.binary_cross_entropy's elementwise loss and gradient, without its range check (a
    host sync): logs clamped to >= -100, gradient (p - t) / max(p (1 - p), 1e-12); a probability
    outside [0, 1] gives NaN."""

    @staticmethod
    def forward(ctx: Any, p: Tensor, t: Tensor) -> Tensor:
        ctx.save_for_backward(p, t)
        ce, _ = _probability_bce(p, t)
        return ce + torch.where((p < 0) | (p > 1) | p.isnan(), float("nan"), 0.0)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        p, t = ctx.saved_tensors
        return grad * _probability_bce(p, t)[1], None


def _probability_bce(p: Tensor, t: Tensor | float) -> tuple[Tensor, Tensor]:
    """(BCE, dBCE/dp) as F.binary_cross_entropy computes them: logs clamped to >= -100, gradient
    (p - t) / max(p (1 - p), 1e-12)."""
    ce = -(t * torch.log(p).clamp(min=-100) + (1 - t) * torch.log1p(-p).clamp(min=-100))
    return ce, (p - t) / (p * (1 - p)).clamp(min=1e-12)


def _power_or_limit(base: Tensor, gamma: float) -> Tensor:
    """base ** gamma for base >= 0 with a finite gradient where base is 0 (its limit, 0; the
    double-where idiom) and 0 ** 0 = 1."""
    zero = base == 0
    return torch.where(zero, 1.0 if gamma == 0 else 0.0, torch.where(zero, 1.0, base) ** gamma)


def _sigmoid_focal_elementwise(
    x: Tensor,
    t: Tensor,
    alpha: float | Tensor | None,
    gamma: float,
    label_smoothing: float = 0.0,
    pos_weight: float | Tensor | None = None,
    activated: bool = False,
    poly_epsilon: float = 0.0,
) -> Tensor:
    if label_smoothing:
        t = t * (1 - label_smoothing) + label_smoothing / 2
    if activated:
        one_minus_pt = t * (1 - x) + (1 - t) * x
        loss = _power_or_limit(one_minus_pt, gamma) * (_ProbabilityBCE.apply(x, t) + poly_epsilon * one_minus_pt)
        wrong_side = torch.zeros_like(x, dtype=torch.bool)
    else:
        clamped = _ClampPassingGradient.apply(x, LOW_LOGIT, BIG_LOGIT)
        log_p = -F.softplus(-clamped)
        log_q = -F.softplus(clamped)  # log(1 - p)
        positive = t if pos_weight is None else pos_weight * t
        ce = -(positive * log_p + (1 - t) * log_q)
        # log(1 - p_t) = log(t q + (1 - t) p) as a log-sum-exp: its gradient has no 0 * inf.
        log_one_minus_pt = torch.logaddexp(torch.log(t) + log_q, torch.log1p(-t) + log_p)
        # Poly-1 (timm's PolyBinaryCrossEntropy): eps * (1 - p_t) beside ce, inside the focal weight
        loss = torch.exp(gamma * log_one_minus_pt) * (ce + poly_epsilon * torch.exp(log_one_minus_pt))
        # an infinite logit on the wrong side of its target: the loss is infinite (as the kernels)
        wrong_side = ((x == float("inf")) & (t < 1)) | ((x == -float("inf")) & (t > 0))
    if alpha is not None:
        loss = (alpha * t + (1 - alpha) * (1 - t)) * loss
    # added, not selected, so that the limit gradient still flows through ``loss``
    return loss + torch.where(wrong_side & (loss > 0), float("inf"), 0.0)


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
    """Eager softmax focal loss; same arguments and result as focal_triton.softmax_focal_loss."""
    options = check_softmax_args(
        inputs, targets, alpha, gamma, reduction, ignore_index, weight, normalizer, label_smoothing
    )
    return softmax_focal_checked(inputs, targets, options)


def softmax_focal_checked(inputs: Tensor, targets: Tensor, options: SoftmaxOptions) -> Tensor:
    """softmax_focal_loss, arguments already checked: alpha one float or None, alpha_per_class
    C weights or None; floating targets are target probabilities."""
    alpha, alpha_per_class, gamma = options.alpha, options.alpha_per_class, options.gamma
    label_smoothing = options.label_smoothing
    x = _ClampPassingGradient.apply(_upcast(inputs), None, BIG_LOGIT)  # -inf (a masked class) is exact as it is
    log_p = F.log_softmax(x, dim=1)  # u_j
    if targets.is_floating_point():
        q = targets.to(x.dtype)
        kept = torch.ones(q.shape[:1] + q.shape[2:], dtype=torch.bool, device=q.device)
    else:
        q, kept = _implicit_one_hot(inputs, targets, options.ignore_index)
        kept = kept.squeeze(1)
    if label_smoothing:
        q = q * (1 - label_smoothing) + label_smoothing / inputs.shape[1]
    # u below -1e38 (a logit of -inf, or a clamped +inf on another class) means p_j = 0: an
    # infinite loss where q_j > 0, added after the formula has run on a finite u so that its
    # limit gradient flows
    infinite = torch.where((q > 0) & (log_p < CLAMPED_LOG_P), float("inf"), 0.0).sum(1)
    u = _ClampPassingGradient.apply(log_p, LOW_LOGIT, None)
    terms = -_power_or_limit(-torch.expm1(u), gamma) * u
    if alpha_per_class is not None:
        terms = alpha_per_class.to(x.dtype).view(1, -1, *([1] * (x.dim() - 2))) * terms
    elif alpha is not None:
        terms = alpha * terms
    loss = torch.where(q == 0, 0.0, q * terms).sum(1) + infinite
    return _weighted_reduce(inputs, loss, kept, options, lambda total: total(kept))


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
    """Eager varifocal loss; same arguments and result as focal_triton.varifocal_loss."""
    inputs, weight = stacked_inputs(stacked, inputs, targets, weight=weight)
    _, options = check_varifocal_args(
        inputs, targets, alpha, gamma, reduction, scores, detach_weight, ignore_index, weight, normalizer, stacked
    )
    return stacked_result(varifocal_checked(inputs, targets, options), stacked, reduction)


def _soft_targets(
    inputs: Tensor, targets: Tensor, scores: Tensor | None, ignore_index: int
) -> tuple[Tensor, Tensor, Tensor]:
    """(q, positive, kept) of VFL / QFL: soft targets of the logits' shape (positive where q > 0), or the
    one-hot of class indices times each row's score (positive at the row's class)."""
    x = _upcast(inputs)
    if scores is None:
        q = targets.to(x.dtype)
        return q, q > 0, torch.ones_like(q, dtype=torch.bool)
    one_hot, kept = _implicit_one_hot(inputs, targets, ignore_index)
    positive = one_hot > 0
    # a row's score is its target at its class only: a background row's score is never read
    return torch.where(positive, scores.to(x.dtype).unsqueeze(1), 0.0), positive, kept


def _outside_unit(values: Tensor, x: Tensor) -> Tensor:
    """NaN in loss and gradient where a target (or probability) is outside [0, 1] or NaN, else 0:
    added to a loss of logits ``x``."""
    return _nan_where((values < 0) | (values > 1) | values.isnan(), x)


def _bce_with_logits(x: Tensor, q: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """BCE with logits at a clamped logit (its limit gradient passes), with the kernels' inf where a
    logit of +-inf is on the wrong side of its target."""
    clamped = _ClampPassingGradient.apply(x, LOW_LOGIT, BIG_LOGIT)
    bce = F.binary_cross_entropy_with_logits(clamped, q, reduction="none")
    wrong_side = ((x == float("inf")) & (q < 1)) | ((x == -float("inf")) & (q > 0))
    return bce, clamped, wrong_side


def _scored_reduce(
    inputs: Tensor,
    loss: Tensor,
    wrong_side: Tensor,
    q: Tensor,
    clamped: Tensor,
    kept: Tensor,
    options: BinaryOptions,
) -> Tensor:
    """The reduced loss of VFL's target forms (VFL, MAL, IA-BCE), with the kernels' conventions: inf
    where an infinite logit is on the wrong side of a nonzero loss's target, NaN where the score q is
    outside [0, 1]; 'mean' over C per kept row with class indices, else over every element."""
    loss = loss + torch.where(wrong_side & (loss > 0), float("inf"), 0.0) + _outside_unit(q, clamped)
    if options.scores is not None:
        return _weighted_reduce(inputs, loss, kept, options, lambda total: total(kept) * inputs.shape[1])
    return _weighted_reduce(inputs, loss, kept, options, lambda total: kept.numel())


def varifocal_checked(inputs: Tensor, targets: Tensor, options: BinaryOptions) -> Tensor:
    """varifocal_loss, arguments already checked."""
    alpha, gamma = options.alpha or 0.0, options.gamma
    q, positive, kept = _soft_targets(inputs, targets, options.scores, options.ignore_index)
    bce, clamped, wrong_side = _bce_with_logits(_upcast(inputs), q)
    s_pow = torch.exp(-gamma * F.softplus(-clamped))  # sigmoid(x) ** gamma
    if options.detach_weight:
        s_pow = s_pow.detach()
    loss = torch.where(positive, q, alpha * s_pow) * bce
    return _scored_reduce(inputs, loss, wrong_side, q, clamped, kept, options)


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
    """Eager matchability-aware loss; same arguments and result as focal_triton.matchability_aware_loss."""
    inputs, weight = stacked_inputs(stacked, inputs, targets, weight=weight)
    _, options = check_matchability_aware_args(
        inputs, targets, gamma, alpha, reduction, scores, ignore_index, weight, normalizer, stacked
    )
    return stacked_result(matchability_aware_checked(inputs, targets, options), stacked, reduction)


def matchability_aware_checked(inputs: Tensor, targets: Tensor, options: BinaryOptions) -> Tensor:
    """matchability_aware_loss, arguments already checked: target q ** gamma and weight 1 at the
    matched class, target 0 and weight alpha * sigmoid(x) ** gamma (detached) elsewhere."""
    alpha, gamma = options.alpha or 0.0, options.gamma
    q, positive, kept = _soft_targets(inputs, targets, options.scores, options.ignore_index)
    target = torch.where(positive, _power_or_limit(q.clamp(0, 1), gamma), 0.0)
    bce, clamped, wrong_side = _bce_with_logits(_upcast(inputs), target)
    s_pow = torch.exp(-gamma * F.softplus(-clamped)).detach()  # sigmoid(x) ** gamma
    loss = torch.where(positive, 1.0, alpha * s_pow) * bce
    return _scored_reduce(inputs, loss, wrong_side, q, clamped, kept, options)


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
    """Eager IoU-aware BCE; same arguments and result as focal_triton.ia_bce_loss."""
    inputs, weight = stacked_inputs(stacked, inputs, targets, weight=weight)
    _, options = check_ia_bce_args(
        inputs, targets, alpha, gamma, reduction, scores, ignore_index, weight, normalizer, stacked
    )
    return stacked_result(ia_bce_checked(inputs, targets, options), stacked, reduction)


def ia_bce_checked(inputs: Tensor, targets: Tensor, options: BinaryOptions) -> Tensor:
    """ia_bce_loss, arguments already checked: BCE(x, t) at the matched class with the detached
    target t = max(sigmoid(x) ** alpha * q ** (1 - alpha), 0.01), sigmoid(x) ** gamma * softplus(x)
    (the weight not detached) elsewhere."""
    alpha, gamma = options.alpha or 0.0, options.gamma
    q, positive, kept = _soft_targets(inputs, targets, options.scores, options.ignore_index)
    x = _upcast(inputs)
    s = torch.sigmoid(x.clamp(LOW_LOGIT, BIG_LOGIT)).detach()
    target = torch.clamp(s**alpha * _power_or_limit(q.clamp(0, 1), 1.0 - alpha), min=0.01)
    bce_t, clamped, wrong_side_t = _bce_with_logits(x, target)
    bce_0, _, wrong_side_0 = _bce_with_logits(x, torch.zeros_like(target))
    s_pow = torch.exp(-gamma * F.softplus(-clamped))  # sigmoid(x) ** gamma, with its gradient
    loss = torch.where(positive, bce_t, s_pow * bce_0)
    wrong_side = torch.where(positive, wrong_side_t, wrong_side_0)
    return _scored_reduce(inputs, loss, wrong_side, q, clamped, kept, options)


class _QualityFocal(torch.autograd.Function):
    """QFL's element loss w * BCE(x, y), w = |d| ** beta, d = s - y (s = sigmoid(x), or x itself
    with ``activated``: F.binary_cross_entropy's clamped BCE), with its gradient written out:
    w * dBCE/dx + beta * (BCE / d) * ds/dx * w, BCE / d taken as 0 at d = 0.  Autograd of
    |d| ** beta would meet inf * 0 where a confident logit makes d and BCE tiny together."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, y: Tensor, beta: float, activated: bool) -> Tensor:
        if activated:
            (bce, dbce), d, slope = _probability_bce(x, y), x - y, torch.ones_like(x)
        else:
            s, one_minus_s = torch.sigmoid(x), torch.sigmoid(-x)
            bce = y * F.softplus(-x) + (1 - y) * F.softplus(x)  # keeps the digits of a tiny BCE
            d = (1 - y) * s - y * one_minus_s  # s - y, exact at the 0 / 1 targets of a confident logit
            dbce, slope = d, s * one_minus_s
        w = _power_or_limit(d.abs(), beta)
        nonzero = d != 0
        bce_over_d = torch.where(nonzero, bce / torch.where(nonzero, d, 1.0), 0.0)
        ctx.save_for_backward(w * dbce + beta * (bce_over_d * slope * w))
        return w * bce

    @staticmethod
    def backward(ctx: Any, grad_output: Tensor) -> tuple[Tensor, None, None, None]:
        (grad,) = ctx.saved_tensors
        return grad_output * grad, None, None, None


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
    """Eager quality focal loss; same arguments and result as focal_triton.quality_focal_loss."""
    options = check_quality_focal_args(
        inputs, targets, beta, reduction, scores, ignore_index, activated, weight, normalizer
    )
    return quality_focal_checked(inputs, targets, options)


def quality_focal_checked(inputs: Tensor, targets: Tensor, options: BinaryOptions) -> Tensor:
    """quality_focal_loss, arguments already checked: BCE(x, y) * |y - s| ** beta summed over classes."""
    scores, beta, activated = options.scores, options.beta, options.activated
    y, _, kept = _soft_targets(inputs, targets, scores, options.ignore_index)
    x = _upcast(inputs)
    if activated:
        loss = _QualityFocal.apply(x, y, beta, True) + _outside_unit(x, x)
    else:
        loss = _QualityFocal.apply(_ClampPassingGradient.apply(x, LOW_LOGIT, BIG_LOGIT), y, beta, False)
        wrong_side = ((x == float("inf")) & (y < 1)) | ((x == -float("inf")) & (y > 0))
        loss = loss + torch.where(wrong_side & (loss > 0), float("inf"), 0.0)
    loss = torch.where(kept, loss + _outside_unit(y, x), 0.0).sum(1)
    rows = kept.any(1) if scores is not None else torch.ones_like(loss, dtype=torch.bool)
    return _weighted_reduce(inputs, loss, rows, options, lambda total: total(rows))


def distribution_focal_loss(
    inputs: Tensor,
    targets: Tensor,
    reduction: Reduction = "mean",
    *,
    weight: Tensor | None = None,
    normalizer: float | Tensor | None = None,
) -> Tensor:
    """Eager distribution focal loss; same arguments and result as focal_triton.distribution_focal_loss."""
    options = check_distribution_focal_args(inputs, targets, reduction, weight, normalizer)
    return distribution_focal_checked(inputs, targets, options)


def distribution_focal_checked(inputs: Tensor, targets: Tensor, options: SoftmaxOptions) -> Tensor:
    """distribution_focal_loss, arguments already checked: CE against the two-hot of each distance y,
    (l + 1 - y) at l = floor(y) and (y - l) at l + 1 (at y = n, the one-hot of bin n)."""
    x = _upcast(inputs)
    log_p = F.log_softmax(_ClampPassingGradient.apply(x, None, BIG_LOGIT), dim=1)
    bins = inputs.shape[1]
    y = targets.to(log_p.dtype)
    inside = (y >= 0) & (y <= bins - 1)
    left = torch.where(inside, y, 0.0).floor().long()
    right = (left + 1).clamp(max=bins - 1)
    weight_left = torch.where(inside, left + 1 - y, 1.0)
    weight_right = torch.where(inside, y - left, 0.0)
    loss = -(
        weight_left * log_p.gather(1, left.unsqueeze(1)).squeeze(1)
        + weight_right * log_p.gather(1, right.unsqueeze(1)).squeeze(1)
    )
    loss = loss + _nan_where(~inside, x.sum(1))  # NaN in the row's loss and in its whole gradient
    kept = torch.ones_like(loss, dtype=torch.bool)
    return _weighted_reduce(inputs, loss, kept, options, lambda total: kept.numel())


def _cxcywh_to_xyxy(boxes: Tensor) -> Tensor:
    cx, cy, w, h = boxes.unbind(-1)
    return torch.stack([cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h], dim=-1)


def _giou(a: Tensor, b: Tensor) -> Tensor:
    """GIoU of every xyxy box of ``a`` (Q, 4) with every one of ``b`` (T, 4)."""
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    inter = (
        (torch.min(a[:, None, 2:], b[None, :, 2:]) - torch.max(a[:, None, :2], b[None, :, :2])).clamp(min=0).prod(-1)
    )
    union = area_a[:, None] + area_b[None, :] - inter
    enclose = (torch.max(a[:, None, 2:], b[None, :, 2:]) - torch.min(a[:, None, :2], b[None, :, :2])).prod(-1)
    return inter / union - (enclose - union) / enclose


def detr_matching_cost(
    logits: Tensor,
    target_labels: Tensor,
    sizes: Sequence[int],
    alpha: float = 0.25,
    gamma: float = 2.0,
    *,
    boxes: Tensor | None = None,
    target_boxes: Tensor | None = None,
    cost_class: float = 2.0,
    cost_bbox: float = 5.0,
    cost_giou: float = 2.0,
) -> Tensor:
    """Eager matching cost; same arguments and result as focal_triton.detr_matching_cost."""
    counts = check_matching_cost_args(logits, target_labels, sizes, alpha, gamma, boxes, target_boxes)
    weights = (float(cost_class), float(cost_bbox), float(cost_giou))
    return detr_matching_cost_checked(logits, target_labels, counts, alpha, gamma, boxes, target_boxes, weights)


def detr_matching_cost_checked(
    logits: Tensor,
    target_labels: Tensor,
    counts: list[int],
    alpha: float,
    gamma: float,
    boxes: Tensor | None,
    target_boxes: Tensor | None,
    weights: tuple[float, float, float],
) -> Tensor:
    """detr_matching_cost's blocks in float64 eager PyTorch (the fallback where Triton cannot run a
    tensor), arguments already checked: ``counts`` the host target counts, ``weights`` (cost_class,
    cost_bbox, cost_giou)."""
    cost_class, cost_bbox, cost_giou = weights
    batch, queries = logits.shape[:2]
    out = torch.full((batch, queries, max(counts, default=0)), float("inf"), dtype=torch.float64, device=logits.device)
    start = 0
    for b, count in enumerate(counts):
        labels = target_labels[start : start + count]
        x = logits[b].double()[:, labels]
        positive = alpha * torch.exp(-gamma * torch.nn.functional.softplus(x)) * torch.nn.functional.softplus(-x)
        negative = (1 - alpha) * torch.exp(-gamma * torch.nn.functional.softplus(-x)) * torch.nn.functional.softplus(x)
        cost = cost_class * (positive - negative)
        if boxes is not None and target_boxes is not None:
            out_boxes, tgt = boxes[b].double(), target_boxes[start : start + count].double()
            cost = cost + cost_bbox * torch.cdist(out_boxes, tgt, p=1)
            cost = cost - cost_giou * _giou(_cxcywh_to_xyxy(out_boxes), _cxcywh_to_xyxy(tgt))
        out[b, :, :count] = cost
        start += count
    return out.float()
