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

from ._validation import check_sigmoid_args

HALF_DTYPES = (torch.float16, torch.bfloat16)


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def sigmoid_focal_loss(inputs, targets, alpha=0.25, gamma=2.0, reduction="none"):
    """Eager sigmoid focal loss; same arguments and result as focal_triton.sigmoid_focal_loss."""
    alpha, gamma = check_sigmoid_args(inputs, targets, alpha, gamma, reduction)
    x = inputs.float() if inputs.dtype in HALF_DTYPES else inputs
    t = (targets != 0).to(x.dtype) if targets.dtype == torch.uint8 else targets.to(x.dtype)
    log_p = -F.softplus(-x)
    log_q = -F.softplus(x)  # log(1 - p)
    ce = -(t * log_p + (1 - t) * log_q)
    # log(1 - p_t) = log(t q + (1 - t) p) as a log-sum-exp: its gradient has no 0 * inf.
    log_one_minus_pt = torch.logaddexp(torch.log(t) + log_q, torch.log1p(-t) + log_p)
    loss = torch.exp(gamma * log_one_minus_pt) * ce
    if alpha is not None:
        loss = (alpha * t + (1 - alpha) * (1 - t)) * loss
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
