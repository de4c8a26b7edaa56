"""The eager baselines ``focal-triton bench`` times focal_triton against: each loss as the code
it replaces writes it (torchvision, mmdet, RT-DETR / D-FINE, the usual softmax focal loss).  They
are NaN-prone (see their docstrings) and never compute a result for a user."""

import torch
import torch.nn.functional as F


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


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


def _one_hot_of_classes(inputs, targets):
    """The (N, C) one-hot of class indices with index C as background, in the logits' dtype, as the
    detection codes build it (the baselines' own cost; the fallbacks use _implicit_one_hot)."""
    num_classes = inputs.shape[1]
    return F.one_hot(targets, num_classes + 1)[:, :num_classes].to(inputs.dtype)


def eager_head_focal_loss(inputs, targets, reduction="mean", weight=None, normalizer=None):
    """A RetinaNet head's focal loss as mmdet computes it (the perf baseline of the weighted,
    normalised call): the one-hot of the class indices (index C = background), torchvision's
    formula, times the per-anchor weight, summed over ``normalizer`` (avg_factor) for 'mean'."""
    loss = torchvision_sigmoid_focal_loss(inputs, _one_hot_of_classes(inputs, targets))
    if weight is not None:
        loss = loss * weight
    if reduction == "mean":
        return loss.sum() / normalizer
    return _reduce(loss, reduction)


def eager_varifocal_loss(inputs, targets, reduction="mean", scores=None, normalizer=None, alpha=0.75, gamma=2.0):
    """The varifocal loss as RT-DETR / D-FINE compute it (the perf baseline): a one-hot of the class
    indices times the scores, a detached weight, BCE with that weight, summed over ``normalizer``."""
    target = _one_hot_of_classes(inputs, targets)
    target_score = scores.to(inputs.dtype).unsqueeze(1) * target
    pred_score = torch.sigmoid(inputs).detach()
    weight = alpha * pred_score.pow(gamma) * (1 - target) + target_score
    loss = F.binary_cross_entropy_with_logits(inputs, target_score, weight=weight, reduction="none")
    return loss.sum() / normalizer if reduction == "mean" else _reduce(loss, reduction)


def eager_matchability_aware_loss(inputs, targets, reduction="mean", scores=None, normalizer=None, gamma=1.5):
    """The matchability-aware loss as DEIM computes it (the perf baseline): a one-hot of the class
    indices, the scores to the power gamma as targets, a detached weight, BCE with that weight,
    summed over ``normalizer``."""
    target = _one_hot_of_classes(inputs, targets)
    target_score = (scores.to(inputs.dtype).unsqueeze(1) * target).pow(gamma)
    pred_score = torch.sigmoid(inputs).detach()
    weight = pred_score.pow(gamma) * (1 - target) + target
    loss = F.binary_cross_entropy_with_logits(inputs, target_score, weight=weight, reduction="none")
    return loss.sum() / normalizer if reduction == "mean" else _reduce(loss, reduction)


def eager_ia_bce_loss(inputs, targets, reduction="mean", scores=None, normalizer=None, alpha=0.25, gamma=2.0):
    """The IoU-aware BCE as RF-DETR computes it (the perf baseline): weights of the logits' shape, the
    matched target written in, the loss through logsigmoid, summed over ``normalizer``."""
    one_hot = _one_hot_of_classes(inputs, targets) > 0
    prob = inputs.sigmoid()
    t = torch.clamp(prob.pow(alpha) * scores.to(inputs.dtype).unsqueeze(1).pow(1 - alpha), 0.01).detach()
    pos_weights = torch.where(one_hot, t, 0.0)
    neg_weights = torch.where(one_hot, 1 - t, prob**gamma)
    loss = neg_weights * inputs - F.logsigmoid(inputs) * (pos_weights + neg_weights)
    return loss.sum() / normalizer if reduction == "mean" else _reduce(loss, reduction)


def eager_quality_focal_loss(inputs, targets, reduction="mean", scores=None, beta=2.0):
    """The quality focal loss as mmdet's tensor-target code computes it (the perf baseline; its
    (label, score) version indexes positives with ``nonzero()``, a host sync): per row, summed over
    the classes."""
    y = _one_hot_of_classes(inputs, targets) * scores.to(inputs.dtype).unsqueeze(1)
    loss = F.binary_cross_entropy_with_logits(inputs, y, reduction="none") * (y - inputs.sigmoid()).abs().pow(beta)
    return _reduce(loss.sum(1), reduction)


def eager_distribution_focal_loss(inputs, targets, reduction="mean"):
    """The distribution focal loss as mmdet computes it (the perf baseline): two cross-entropies
    weighted by the distance to the neighbouring bins."""
    left = targets.long()
    right = left + 1
    loss = F.cross_entropy(inputs, left, reduction="none") * (right.to(targets.dtype) - targets) + F.cross_entropy(
        inputs, right, reduction="none"
    ) * (targets - left.to(targets.dtype))
    return _reduce(loss, reduction)
