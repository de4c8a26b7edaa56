"""``python -m focal_triton``: run the Triton kernels against the eager reference on random data.

Prints the device, the backend that ran and the largest errors found.  Without
CUDA the command re-runs itself with TRITON_INTERPRET=1 (which must be set
before Triton is imported, and the package has imported it by now) so that the
real kernels run on the CPU through the Triton interpreter.
"""

import functools
import os
import sys
import warnings
from collections.abc import Callable
from typing import Any

import torch

import focal_triton
from focal_triton import reference

TOLERANCE = 1e-4  # float32 kernels against the float64 eager reference


def _relative_error(value: torch.Tensor, expected: torch.Tensor) -> float:
    """max |value - expected| / (1 + |expected|): absolute near 0, relative for large sums."""
    return ((value.double() - expected.double()).abs() / (1 + expected.double().abs())).max().item()


def _check(
    name: str, fn: Callable, ref: Callable, x: torch.Tensor, t: torch.Tensor, tolerance: float, **kwargs: Any
) -> bool:
    x_kernel = x.detach().clone().requires_grad_()
    x_ref = x.detach().clone().requires_grad_()
    loss = fn(x_kernel, t, **kwargs)
    expected = ref(x_ref.cpu(), t.cpu(), **kwargs).to(x.device)
    loss.backward(torch.ones_like(loss))
    expected.backward(torch.ones_like(expected))
    assert x_kernel.grad is not None and x_ref.grad is not None
    loss_err = _relative_error(loss, expected)
    grad_err = _relative_error(x_kernel.grad, x_ref.grad)
    ok = loss_err <= tolerance and grad_err <= tolerance
    print(f"  {name:<58} loss err {loss_err:.1e}  grad err {grad_err:.1e}  {'ok' if ok else 'FAILED'}")
    return ok


def _check_head_options_and_family(generator: torch.Generator, device: str, n: int) -> bool:
    """A detection head's weighted, normalised call, label smoothing, and the focal family."""
    rows, classes = n // 80, 80
    logits = (torch.randn(rows, classes, generator=generator) * 4).to(device)
    labels = torch.where(
        torch.rand(rows, generator=generator) < 0.1, torch.randint(0, classes, (rows,), generator=generator), classes
    ).to(device)
    scores = torch.rand(rows, generator=generator).to(device)
    weight = torch.rand(rows, 1, generator=generator).to(device)
    distances = (torch.rand(rows, generator=generator) * 15.99).to(device)
    bins = (torch.randn(rows, 17, generator=generator) * 3).to(device)
    normalizer = (labels < classes).sum().clamp(min=1)
    checks: list[tuple[str, str, torch.Tensor, torch.Tensor, dict]] = [
        (
            "sigmoid (R, 80) class indices weight, normalizer",
            "sigmoid_focal_loss",
            logits,
            labels,
            dict(weight=weight, normalizer=normalizer, reduction="mean"),
        ),
        (
            "softmax (R, 80) label_smoothing=0.1",
            "softmax_focal_loss",
            logits,
            labels.clamp(max=classes - 1),
            dict(label_smoothing=0.1),
        ),
        (
            "varifocal (R, 80) class indices + scores",
            "varifocal_loss",
            logits,
            labels,
            dict(scores=scores, normalizer=normalizer),
        ),
        ("quality focal (R, 80) class indices + scores", "quality_focal_loss", logits, labels, dict(scores=scores)),
        ("distribution focal (R, 17) distances", "distribution_focal_loss", bins, distances, {}),
    ]
    ok = True
    for name, entry, x, t, options in checks:
        cpu = {key: value.cpu() if isinstance(value, torch.Tensor) else value for key, value in options.items()}
        ok &= _check(
            name,
            functools.partial(getattr(focal_triton, entry), **options),
            functools.partial(getattr(reference, entry), **cpu),
            x,
            t,
            tolerance=TOLERANCE,
        )
    return ok


def main() -> int:
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu" and "TRITON_INTERPRET" not in os.environ:
        os.execve(sys.executable, [sys.executable, "-m", "focal_triton"], {**os.environ, "TRITON_INTERPRET": "1"})
    # the interpreter computes masked-off lanes too, and NumPy warns about their inf * 0: never stored
    warnings.filterwarnings("ignore", category=RuntimeWarning, module="triton.runtime.interpreter")
    generator = torch.Generator().manual_seed(0)
    name = torch.cuda.get_device_name() if device == "cuda" else "CPU"
    print(f"focal_triton {focal_triton.__version__}  torch {torch.__version__}  device {name}")
    n = 1 << 20 if device == "cuda" else 1 << 13
    x = (torch.randn(n, generator=generator) * 4).to(device)
    t_soft = torch.rand(n, generator=generator).to(device)
    t_hard = t_soft > 0.5
    print(f"backend: {focal_triton.backend_for(x)}")
    print(
        f"err: max |focal_triton - eager reference| / (1 + |reference|) over the loss and over the gradient; "
        f"ok when both <= {TOLERANCE:g}"
    )
    ok = True
    for reduction in ("none", "mean", "sum"):
        for gamma in (0.0, 0.5, 2.0):
            for targets, kind in ((t_soft, "soft"), (t_hard, "bool")):
                ok &= _check(
                    f"sigmoid ({n},) {kind} targets reduction={reduction} gamma={gamma}",
                    focal_triton.sigmoid_focal_loss,
                    reference.sigmoid_focal_loss,
                    x,
                    targets,
                    tolerance=TOLERANCE,
                    alpha=0.25,
                    gamma=gamma,
                    reduction=reduction,
                )
    for shape in ((n // 64, 64), (8, 21, n // 512, 4), (4, 40000)):
        logits = (torch.randn(shape, generator=generator) * 4).to(device)
        labels = torch.randint(0, shape[1], (shape[0], *shape[2:]), generator=generator).to(device)
        labels.view(-1)[::11] = -100
        for reduction in ("none", "mean"):
            for entry in ("softmax_focal_loss", "sigmoid_focal_loss"):
                ok &= _check(
                    f"{entry.split('_')[0]} {tuple(shape)} class indices reduction={reduction}",
                    getattr(focal_triton, entry),
                    getattr(reference, entry),
                    logits,
                    labels,
                    tolerance=TOLERANCE,
                    reduction=reduction,
                )
    ok &= _check_head_options_and_family(generator, device, n)
    print("all checks passed" if ok else "ERRORS FOUND")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
