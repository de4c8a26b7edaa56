"""focal_triton: fused, numerically stable focal losses for PyTorch, written in Triton."""

from ._backend import backend_for
from .detection import (
    DistributionFocalLoss,
    IABCELoss,
    MatchabilityAwareLoss,
    QualityFocalLoss,
    VarifocalLoss,
    distribution_focal_loss,
    ia_bce_loss,
    matchability_aware_loss,
    quality_focal_loss,
    varifocal_loss,
)
from .matching import detr_matching_cost
from .sigmoid import SigmoidFocalLoss, sigmoid_focal_loss
from .softmax import SoftmaxFocalLoss, softmax_focal_loss

__all__ = [
    "DistributionFocalLoss",
    "IABCELoss",
    "MatchabilityAwareLoss",
    "QualityFocalLoss",
    "SigmoidFocalLoss",
    "SoftmaxFocalLoss",
    "VarifocalLoss",
    "backend_for",
    "detr_matching_cost",
    "distribution_focal_loss",
    "ia_bce_loss",
    "matchability_aware_loss",
    "quality_focal_loss",
    "sigmoid_focal_loss",
    "softmax_focal_loss",
    "varifocal_loss",
]
__version__ = "0.1.0"
