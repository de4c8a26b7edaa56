"""The code's structure as the docs' "Adding a loss" and "Layout" pages describe it."""

import ast
from pathlib import Path

import focal_triton.kernels
import focal_triton.perf

import focal_triton

PACKAGE = Path(focal_triton.__file__).resolve().parent
# Modules of the input contract and the eager reference: they must run without Triton.
TRITON_FREE = ("_backend.py", "_dtypes.py", "_options.py", "_stacked.py", "_validation.py", "reference.py")
TRITON_FREE_IMPORTS = {
    "torch",
    "numbers",
    "typing",
    "types",
    "os",
    "sys",
    "math",
    "collections",
    "dataclasses",
    "contextlib",
    "contextvars",
}


def test_kernels_and_perf_come_from_the_checkout_of_focal_triton():
    """A source checkout never imports its kernels or perf tools from another tree (a stale install)."""
    tree = PACKAGE.parent
    for module in (focal_triton.kernels, focal_triton.perf):
        assert Path(module.__file__).resolve().is_relative_to(tree), (module.__file__, tree)


def _imports(path):
    """(absolute top-level module names, relative module names) imported by a file."""
    absolute, relative = set(), set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            absolute |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                relative.add(node.module or "")
            elif node.module.startswith("focal_triton."):
                absolute.add(node.module)  # a module of the package, named in full
            else:
                absolute.add(node.module.split(".")[0])
    return absolute, relative


def test_the_named_limits_are_plain_numbers():
    """kernels/limits.py, which the Triton-free reference imports, imports nothing itself."""
    assert _imports(Path(focal_triton.kernels.__file__).parent / "limits.py") == (set(), set())


def test_the_contract_and_the_reference_import_no_triton():
    for name in TRITON_FREE:
        absolute, relative = _imports(PACKAGE / name)
        assert absolute <= TRITON_FREE_IMPORTS | {"focal_triton.kernels.limits"}, (name, absolute - TRITON_FREE_IMPORTS)
        assert {f"{module}.py" for module in relative} <= set(TRITON_FREE), (name, relative)


def test_perf_uses_the_public_api_and_the_tuning_interface_only():
    tools = sorted(Path(focal_triton.perf.__file__).parent.glob("*.py"))
    assert len(tools) > 5
    for path in tools:
        text = path.read_text()
        assert "focal_triton._" not in text and "from focal_triton import _" not in text, path.name
