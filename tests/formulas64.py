"""Independent float64 focal-loss formulas the tests compare against.

Written from the textbook definitions with torch's own float64 ops, not from
the code under test.
"""

import torch
import torch.nn.functional as F


def alpha_factor(t, alpha):
    if alpha is None or alpha < 0:
        return torch.ones_like(t)
    return alpha * t + (1 - alpha) * (1 - t)


def sigmoid_focal_loss64(x, t, alpha, gamma):
    """Elementwise alpha_t * (1 - p_t) ** gamma * BCEWithLogits(x, t), in float64."""
    x, t = x.double(), t.double()
    p = torch.sigmoid(x)
    p_t = p * t + (1 - p) * (1 - t)
    ce = F.binary_cross_entropy_with_logits(x, t, reduction="none")
    return alpha_factor(t, alpha) * (1 - p_t) ** gamma * ce


def sigmoid_focal_grad64(x, t, alpha, gamma):
    """Elementwise d loss / d x by the chain rule, in float64.

    m = 1 - p_t, dm/dx = (1 - 2t) p (1 - p), d m**gamma / dx = gamma m**(gamma-1) dm/dx
    (its limit 0 where m = 0), dce/dx = p - t.
    """
    x, t = x.double(), t.double()
    p, one_minus_p = torch.sigmoid(x), torch.sigmoid(-x)
    m = t * one_minus_p + (1 - t) * p
    dm = (1 - 2 * t) * p * one_minus_p
    safe_m = torch.where(m > 0, m, torch.ones_like(m))
    dw = torch.where(m > 0, gamma * safe_m ** (gamma - 1) * dm, torch.zeros_like(m))
    ce = F.binary_cross_entropy_with_logits(x, t, reduction="none")
    return alpha_factor(t, alpha) * (dw * ce + m**gamma * (p - t))


def reduce64(elementwise, reduction):
    if reduction == "mean":
        return elementwise.mean()
    if reduction == "sum":
        return elementwise.sum()
    return elementwise


def grad_scale64(n, reduction):
    return 1.0 / n if reduction == "mean" else 1.0
