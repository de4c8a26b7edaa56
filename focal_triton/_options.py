"""The checked options of each kernel family: one frozen, typed record that ``_validation`` fills
in, the launcher and the eager reference read by name, and whose annotations write the
``torch.library`` schema of the loss's op (``schema_arguments``).

A family's losses are the same record with other values (``dataclasses.replace``): the varifocal
loss is ``BinaryOptions(loss="varifocal", ...)``, its weight's exponent in ``gamma``; the quality
focal loss carries ``beta``.  Every field has the default of the public call, so a record names
only what differs.
"""

import dataclasses
import types
import typing
from typing import Any, Literal

from torch import Tensor

BinaryLoss = Literal["focal", "varifocal", "quality_focal", "matchability_aware", "ia_bce"]
SoftmaxLoss = Literal["focal", "distribution_focal"]


@dataclasses.dataclass(frozen=True)
class LossOptions:
    """What every loss takes: its reduction, a weight of the 'none' loss's shape (broadcastable,
    read in place), what 'mean' divides by instead of the count (a number or a 0-d tensor on the
    device, at most one of the two), and the targets' form: soft (floating, of the logits' shape)
    or not (labels, class indices, distances)."""

    reduction: str = "mean"
    weight: Tensor | None = None
    normalizer: float | None = None
    normalizer_tensor: Tensor | None = None
    soft_targets: bool = False

    @property
    def reduce(self) -> bool:
        """'mean' / 'sum': the kernel writes partial sums, not a loss per element."""
        return self.reduction != "none"

    def reduced_shape(self, inputs: Tensor) -> tuple[int, ...]:
        """The shape of the 'mean' / 'sum' loss of ``inputs``: one number."""
        return ()


@dataclasses.dataclass(frozen=True)
class BinaryOptions(LossOptions):
    """The sigmoid kernels' losses (``kernels/sigmoid_focal.py``): the focal loss against targets of
    the logits' shape or class indices, and the varifocal, quality focal, matchability-aware and
    IoU-aware BCE losses.

    alpha: the positives' factor (None: no alpha_t); alpha_per_class: one value per class along
    dim 1, broadcastable to the logits (then alpha is None).  pos_weight / pos_weight_tensor: the
    same pair for BCE's positive term.  scores: with class-index targets, the target at each row's
    class (VFL, QFL, MAL, IA-BCE).  detach_weight: no gradient through VFL's or MAL's weight (MAL:
    always).  activated: the logits are probabilities.  poly_epsilon: the focal loss's Poly-1 coefficient (0: none).
    stacked: the class walk's N batches are stacked sets (L decoder layers), each reduced on its own
    (focal_triton/_stacked.py): 'mean' / 'sum' give (N,) losses; the normalizer tensor may be (N,)."""

    loss: BinaryLoss = "focal"
    alpha: float | None = 0.25
    alpha_per_class: Tensor | None = None
    gamma: float = 2.0
    beta: float = 2.0
    ignore_index: int = -100
    label_smoothing: float = 0.0
    pos_weight: float | None = None
    pos_weight_tensor: Tensor | None = None
    activated: bool = False
    detach_weight: bool = False
    scores: Tensor | None = None
    poly_epsilon: float = 0.0
    stacked: bool = False

    def reduced_shape(self, inputs: Tensor) -> tuple[int, ...]:
        """One number, or one a stacked set: (N,) for (N, C, *) logits."""
        return (inputs.shape[0],) if self.stacked else ()

    @property
    def exponent(self) -> float:
        """The exponent of the loss's modulating factor: QFL's beta, else gamma."""
        return self.beta if self.loss == "quality_focal" else self.gamma


@dataclasses.dataclass(frozen=True)
class SoftmaxOptions(LossOptions):
    """The softmax kernels' losses (``kernels/softmax_focal.py``): the softmax focal loss against
    class indices or target probabilities, and the distribution focal loss (targets: one distance
    a row, the target its two-hot).  alpha / alpha_per_class: one factor for every class, or C
    weights (then alpha is None)."""

    loss: SoftmaxLoss = "focal"
    alpha: float | None = None
    alpha_per_class: Tensor | None = None
    gamma: float = 2.0
    ignore_index: int = -100
    label_smoothing: float = 0.0


# schema type of each annotation; a Literal of strings is a str
_SCHEMA_TYPES = {float: "float", int: "int", bool: "bool", str: "str", Tensor: "Tensor"}


def _schema_type(annotation: Any) -> str:
    """The torch.library schema type of a field's annotation: X, or X? for ``X | None``."""
    if typing.get_origin(annotation) is Literal:
        return "str"
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        (inner,) = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        return _schema_type(inner) + "?"
    return _SCHEMA_TYPES[annotation]


def field_names(options_type: type) -> tuple[str, ...]:
    """The fields of an options record, in the order its op takes them."""
    return tuple(field.name for field in dataclasses.fields(options_type))


def schema_arguments(options_type: type) -> str:
    """ ", <type> <name>" for each field of an options record: the op's schema after its tensors."""
    hints = typing.get_type_hints(options_type)
    return "".join(f", {_schema_type(hints[name])} {name}" for name in field_names(options_type))
