"""Plain eager PyTorch implementations of the focal_triton API.

``sigmoid_focal_loss`` is the CPU fallback (used when Triton cannot run the
tensor) and has the same semantics and input contract as
:func:`focal_triton.sigmoid_focal_loss`.  It is written in log space so that
autograd's gradient stays finite where the textbook formula gives NaN.

``torchvision_sigmoid_focal_loss`` is torchvision's formula verbatim, the
binary baseline the perf harness times, and ``eager_softmax_focal_loss`` the
softmax one; both are NaN-prone (see their docstrings) and never compute a
result for the user.  The fallbacks compute in float64.
"""

import torch
import torch.nn.functional as F

from ._dtypes import loss_dtype_for
from ._validation import (
    check_sigmoid_args,
    check_sigmoid_index_args,
    check_softmax_args,
    is_class_index_form,
)

# The kernels' stand-in for an infinite logit (kernels/stable_math.py, clamp_infinities):
# every probability and gradient term has reached its limit long before it.
BIG_LOGIT = 3.0e38


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _upcast(inputs):
    """float64 math: at a clamped infinite logit (3e38) products such as gamma * ce of the
    backward stay finite, where float32 would overflow to inf and meet a 0 (NaN)."""
    return inputs.double()


class _ClampPassingGradient(torch.autograd.Function):
    """x.clamp(low, high) whose gradient passes through unchanged: the formula's gradient at
    the clamp bound, which is its limit there, reaches an infinite value (a plain clamp would give 0)."""

    @staticmethod
    def forward(ctx, x, low, high):
        return x.clamp(low, high)

    @staticmethod
    def backward(ctx, grad):
        return grad, None, None


def _implicit_one_hot(inputs, targets, ignore_index):
    """(N, C, *) float one-hot of class indices (outside [0, C) = background) and the (N, 1, *) kept mask."""
    classes = torch.arange(inputs.shape[1], device=inputs.device).view(1, -1, *([1] * (inputs.dim() - 2)))
    wide = targets.to(torch.int64).unsqueeze(1)
    return (wide == classes).to(_upcast(inputs).dtype), wide != ignore_index


def sigmoid_focal_loss(inputs, targets, alpha=0.25, gamma=2.0, reduction="none", *, ignore_index=-100):
    """Eager sigmoid focal loss; same arguments and result as focal_triton.sigmoid_focal_loss."""
    if is_class_index_form(inputs, targets):
        checked = check_sigmoid_index_args(inputs, targets, alpha, gamma, reduction, ignore_index)
        alpha, gamma, ignore_index = checked
        return sigmoid_focal_index_checked(inputs, targets, alpha, gamma, reduction, ignore_index)
    alpha, gamma, ignore_index = check_sigmoid_args(inputs, targets, alpha, gamma, reduction, ignore_index)
    return sigmoid_focal_checked(inputs, targets, alpha, gamma, reduction, ignore_index)


def sigmoid_focal_checked(inputs, targets, alpha, gamma, reduction, ignore_index):
    """sigmoid_focal_loss with same-shape targets, arguments already checked (alpha: float or None)."""
    x = _upcast(inputs)
    labels = targets.dtype in (torch.bool, torch.uint8)
    t = (targets != 0).to(x.dtype) if labels else targets.to(x.dtype)
    kept = targets != ignore_index if targets.dtype == torch.uint8 else torch.ones_like(t, dtype=torch.bool)
    return _sigmoid_reduce(inputs, x, t, kept, kept.sum(), alpha, gamma, reduction)


def sigmoid_focal_index_checked(inputs, targets, alpha, gamma, reduction, ignore_index):
    """sigmoid_focal_loss with class-index targets, arguments already checked."""
    x = _upcast(inputs)
    t, kept = _implicit_one_hot(inputs, targets, ignore_index)
    return _sigmoid_reduce(inputs, x, t, kept, kept.sum() * inputs.shape[1], alpha, gamma, reduction)


def _sigmoid_reduce(inputs, x, t, kept, denominator, alpha, gamma, reduction):
    loss = torch.where(kept, _sigmoid_focal_elementwise(x, t, alpha, gamma), 0.0)
    loss_dtype = loss_dtype_for(inputs)
    if reduction == "mean":
        return (loss.sum() / denominator).to(loss_dtype)
    return _reduce(loss, reduction).to(loss_dtype)


def _sigmoid_focal_elementwise(x, t, alpha, gamma):
    clamped = _ClampPassingGradient.apply(x, -BIG_LOGIT, BIG_LOGIT)
    log_p = -F.softplus(-clamped)
    log_q = -F.softplus(clamped)  # log(1 - p)
    ce = -(t * log_p + (1 - t) * log_q)
    # log(1 - p_t) = log(t q + (1 - t) p) as a log-sum-exp: its gradient has no 0 * inf.
    log_one_minus_pt = torch.logaddexp(torch.log(t) + log_q, torch.log1p(-t) + log_p)
    loss = torch.exp(gamma * log_one_minus_pt) * ce
    if alpha is not None:
        loss = (alpha * t + (1 - alpha) * (1 - t)) * loss
    # an infinite logit on the wrong side of its target: the loss is infinite (as the kernels);
    # added, not selected, so that the limit gradient still flows through ``loss``
    wrong_side = ((x == float("inf")) & (t < 1)) | ((x == -float("inf")) & (t > 0))
    return loss + torch.where(wrong_side & (loss > 0), float("inf"), 0.0)


def softmax_focal_loss(inputs, targets, alpha=None, gamma=2.0, reduction="mean", *, ignore_index=-100):
    """Eager softmax focal loss; same arguments and result as focal_triton.softmax_focal_loss."""
    alpha, alpha_per_class, gamma, ignore_index = check_softmax_args(
        inputs, targets, alpha, gamma, reduction, ignore_index
    )
    return softmax_focal_checked(inputs, targets, alpha, alpha_per_class, gamma, reduction, ignore_index)


def softmax_focal_checked(inputs, targets, alpha, alpha_per_class, gamma, reduction, ignore_index):
    """softmax_focal_loss, arguments already checked: alpha one float or None, alpha_per_class
    C weights or None."""
    loss_dtype = loss_dtype_for(inputs)
    x = _ClampPassingGradient.apply(_upcast(inputs), None, BIG_LOGIT)  # -inf (a masked class) is exact as it is
    wide = targets.to(torch.int64)
    kept = wide != ignore_index
    k = torch.where(kept, wide, 0)
    u = F.log_softmax(x, dim=1).gather(1, k.unsqueeze(1)).squeeze(1)  # log p_k
    # u below -1e38 (a target logit of -inf, or a clamped +inf on another class) means p_k = 0:
    # an infinite loss, added after the formula has run on a finite u so that its limit gradient flows
    infinite = torch.where(kept & (u < -1.0e38), float("inf"), 0.0)
    u = _ClampPassingGradient.apply(u, -BIG_LOGIT, None)
    one_minus_p = -torch.expm1(u)
    # (1 - p_k) ** gamma with a finite gradient where 1 - p_k rounds to 0 (the double-where idiom)
    zero = one_minus_p == 0
    w = torch.where(zero, float(gamma == 0), torch.where(zero, 1.0, one_minus_p) ** gamma)
    loss = -w * u
    if alpha_per_class is not None:
        loss = alpha_per_class.to(x.dtype)[k] * loss
    elif alpha is not None:
        loss = alpha * loss
    loss = torch.where(kept, loss, 0.0) + infinite
    if reduction == "mean":
        return (loss.sum() / kept.sum()).to(loss_dtype)
    return _reduce(loss, reduction).to(loss_dtype)


def torchvision_sigmoid_focal_loss(inputs, targets, alpha=0.25, gamma=2.0, reduction="none"):
    """torchvision.ops.sigmoid_focal_loss as torchvision writes it (the perf baseline).

    Its autograd gradient is NaN for 0 < gamma < 1 once 1 - p_t rounds to 0
    (e.g. gamma=0.5, x=20, t=1), because (1 - p_t) ** gamma has an infinite slope there.
    """
    p = torch.sigmoid(inputs)
    ce_loss = F.binary_cross_entropy_with_logits(inputs, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce_loss * ((1 - p_t) ** gamma)
    if alpha is not None and alpha >= 0:
        alpha_t = alpha * targets + (1 - alpha) * (1 - targets)
        loss = alpha_t * loss
    return _reduce(loss, reduction)


def eager_softmax_focal_loss(inputs, targets, gamma=2.0, reduction="mean", ignore_index=-100):
    """The softmax focal loss as training code usually writes it (the perf baseline): log_softmax,
    gather and pow in the logits' dtype upcast to float32, 'mean' over the non-ignored positions.
    Its gradient is NaN for 0 < gamma < 1 where p_k rounds to 1."""
    log_p = F.log_softmax(inputs.float(), dim=1)
    kept = targets != ignore_index
    k = torch.where(kept, targets, 0).long()
    log_p_k = log_p.gather(1, k.unsqueeze(1)).squeeze(1)
    loss = -((1 - log_p_k.exp()) ** gamma) * log_p_k
    loss = torch.where(kept, loss, 0.0)
    if reduction == "mean":
        return (loss.sum() / kept.sum()).to(inputs.dtype)
    return _reduce(loss, reduction).to(inputs.dtype)
