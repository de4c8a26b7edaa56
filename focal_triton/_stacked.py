"""Stacked sets: the (L,) losses of L sets of the same R rows (a DETR's decoder layers) from one launch.

A DETR criterion calls its classification loss once a decoder layer.  With ``stacked=True`` a loss
takes the sets' logits stacked as (L, R, C) (decoder outputs (L, B, Q, C) as ``.flatten(1, 2)``),
their (L, R) class indices (and scores) and returns the (L,) 'mean' / 'sum' losses, with every
set's gradient, from one launch of the class walk; each equals, bitwise, the call on its set alone:

- the class walk reads the logits' (L, C, R) view (a transpose, no copy) as L batches of R rows
  (_layout.rows_layout with ``keep_batches``), so a program's rows lie in one set and its partial
  sum is the one the set's own call writes (the same tile: it is chosen from C and R);
- each set's partials are added in its own call's order, one program a set
  (kernels/reduce.sum_partials_kernel), and divided by its own denominator: the set's count of
  kept positions, the normalizer number, or the set's entry of an (L,) normalizer tensor;
- backward multiplies each set's gradient by its entry of the (L,) grad_output (_grad).

'none' is the (L, R, C) loss, as without ``stacked``.
"""

from torch import Tensor

from ._validation import check_bool, check_stacked_sets


def stacked_inputs(stacked: object, inputs: Tensor, targets: Tensor, **operands: object) -> tuple:
    """(inputs, *operands' values) as the loss reads them: unchanged, or for ``stacked`` sets the
    (L, C, R) view of the (L, R, C) logits and of each tensor operand of their shape (weight,
    pos_weight: broadcastable to (L, R, C)); targets and scores (L, R) are read as they are."""
    if not check_bool("stacked", stacked):
        return inputs, *operands.values()
    check_stacked_sets(inputs, targets, operands)
    views = (_set_major(value, inputs) if isinstance(value, Tensor) else value for value in operands.values())
    return inputs.transpose(1, 2), *views


def _set_major(operand: Tensor, inputs: Tensor) -> Tensor:
    """An operand broadcast to the (L, R, C) logits, as their (L, C, R) view (no copy)."""
    return operand.expand(inputs.shape).transpose(1, 2)


def stacked_result(loss: Tensor, stacked: bool, reduction: str) -> Tensor:
    """The loss in the caller's shapes: a 'none' loss of stacked sets back to (L, R, C)."""
    return loss.transpose(1, 2) if stacked and reduction == "none" else loss
