"""The kernel launches of a public call, captured instead of run.

``captured_launches()`` lets focal_triton's public functions take their kernel path on CPU tensors
(``tuning.kernel_path_on_cpu``: the launchers pass what they pass on a GPU, reading no device facts
but the shipped tuning tables, which are off there) and records every launch before it would run,
so nothing is computed and tensors are never read: ``torch.empty`` inputs of any size cost no
memory.  A launch through the autotuner records its candidate configs.
"""

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from unittest import mock

from triton.runtime.autotuner import Autotuner
from triton.runtime.interpreter import InterpretedFunction
from triton.runtime.jit import JITFunction

from focal_triton import tuning


@dataclass(frozen=True)
class Config:
    """One launch configuration: the meta-parameters the autotuner adds (none for a direct launch,
    whose arguments hold them) and num_warps."""

    meta: dict
    num_warps: int


@dataclass(frozen=True)
class Launch:
    """One kernel launch: the kernel (a ``triton.jit`` function), its keyword arguments as passed
    (tensors, None, numbers and constexprs; num_warps taken out), and its configs: the one it was
    launched with, or each candidate of the autotuner that chose for it."""

    kernel: Any
    arguments: dict
    configs: tuple[Config, ...]

    @property
    def name(self) -> str:
        return self.kernel.fn.__name__


@contextlib.contextmanager
def captured_launches() -> Iterator[list[Launch]]:
    """Within the block, focal_triton's kernels launch on CPU tensors and every launch is appended
    to the list this yields instead of running."""
    launches: list[Launch] = []

    def run_kernel(self: Any, *args: Any, grid: Any, warmup: bool = False, **arguments: Any) -> None:
        assert not args, "the launchers pass their arguments by keyword"
        num_warps = arguments.pop("num_warps", 4)  # Triton's default
        launches.append(Launch(self, arguments, (Config({}, num_warps),)))

    def run_autotuner(self: Any, *args: Any, grid: Any, warmup: bool = False, **arguments: Any) -> None:
        assert not args, "the launchers pass their arguments by keyword"
        configs = tuple(Config(dict(c.kwargs), c.num_warps) for c in self.configs)
        launches.append(Launch(self.fn, arguments, configs))
        self.best_config = self.configs[0]  # read by the launcher for its launch record

    with contextlib.ExitStack() as stack:
        stack.enter_context(tuning.kernel_path_on_cpu())
        for kernel_class in (JITFunction, InterpretedFunction):
            stack.enter_context(mock.patch.object(kernel_class, "run", run_kernel))
        stack.enter_context(mock.patch.object(Autotuner, "run", run_autotuner))
        yield launches
