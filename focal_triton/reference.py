"""Plain eager PyTorch implementations of the focal_triton API.

``sigmoid_focal_loss`` is the CPU fallback (used when Triton cannot run the
tensor) and has the same semantics and input contract as
:func:`focal_triton.sigmoid_focal_loss`.  It is written in log space so that
autograd's gradient stays finite where the textbook formula gives NaN.

``torchvision_sigmoid_focal_loss`` is torchvision's formula verbatim, the
baseline the perf harness times; it is NaN-prone (see its docstring) and is
never used to compute a result for the user.
"""

import torch
import torch.nn.functional as F

from ._validation import check_sigmoid_args, check_sigmoid_index_args, check_softmax_args, is_class_index_form

HALF_DTYPES = (torch.float16, torch.bfloat16)


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _upcast(inputs):
    return inputs.float() if inputs.dtype in HALF_DTYPES else inputs


def _implicit_one_hot(inputs, targets, ignore_index):
    """(N, C, *) float one-hot of class indices (outside [0, C) = background) and the (N, 1, *) kept mask."""
    classes = torch.arange(inputs.shape[1], device=inputs.device).view(1, -1, *([1] * (inputs.dim() - 2)))
    wide = targets.to(torch.int64).unsqueeze(1)
    return (wide == classes).to(_upcast(inputs).dtype), wide != ignore_index


def sigmoid_focal_loss(inputs, targets, alpha=0.25, gamma=2.0, reduction="none", *, ignore_index=-100):
    """Eager sigmoid focal loss; same arguments and result as focal_triton.sigmoid_focal_loss."""
    if is_class_index_form(inputs, targets):
        alpha, gamma, ignore_index = check_sigmoid_index_args(inputs, targets, alpha, gamma, reduction, ignore_index)
        one_hot, kept = _implicit_one_hot(inputs, targets, ignore_index)
        loss = torch.where(kept, _sigmoid_focal_elementwise(_upcast(inputs), one_hot, alpha, gamma), 0.0)
        if reduction == "mean":
            return (loss.sum() / (kept.sum() * inputs.shape[1])).to(inputs.dtype)
        return _reduce(loss, reduction).to(inputs.dtype)
    alpha, gamma = check_sigmoid_args(inputs, targets, alpha, gamma, reduction)
    x = _upcast(inputs)
    t = (targets != 0).to(x.dtype) if targets.dtype == torch.uint8 else targets.to(x.dtype)
    return _reduce(_sigmoid_focal_elementwise(x, t, alpha, gamma), reduction).to(inputs.dtype)


def _sigmoid_focal_elementwise(x, t, alpha, gamma):
    log_p = -F.softplus(-x)
    log_q = -F.softplus(x)  # log(1 - p)
    ce = -(t * log_p + (1 - t) * log_q)
    # log(1 - p_t) = log(t q + (1 - t) p) as a log-sum-exp: its gradient has no 0 * inf.
    log_one_minus_pt = torch.logaddexp(torch.log(t) + log_q, torch.log1p(-t) + log_p)
    loss = torch.exp(gamma * log_one_minus_pt) * ce
    if alpha is not None:
        loss = (alpha * t + (1 - alpha) * (1 - t)) * loss
    return loss


def softmax_focal_loss(inputs, targets, alpha=None, gamma=2.0, reduction="mean", ignore_index=-100):
    """Eager softmax focal loss; same arguments and result as focal_triton.softmax_focal_loss."""
    alpha, gamma, ignore_index = check_softmax_args(inputs, targets, alpha, gamma, reduction, ignore_index)
    x = _upcast(inputs)
    wide = targets.to(torch.int64)
    kept = wide != ignore_index
    k = torch.where(kept, wide, 0)
    u = F.log_softmax(x, dim=1).gather(1, k.unsqueeze(1)).squeeze(1)  # log p_k
    one_minus_p = -torch.expm1(u)
    # (1 - p_k) ** gamma with a finite gradient where 1 - p_k rounds to 0 (the double-where idiom)
    zero = one_minus_p == 0
    w = torch.where(zero, float(gamma == 0), torch.where(zero, 1.0, one_minus_p) ** gamma)
    loss = -w * u
    if isinstance(alpha, torch.Tensor):
        loss = alpha.to(x.dtype)[k] * loss
    elif alpha is not None:
        loss = alpha * loss
    loss = torch.where(kept, loss, 0.0)
    if reduction == "mean":
        return (loss.sum() / kept.sum()).to(inputs.dtype)
    return _reduce(loss, reduction).to(inputs.dtype)


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
