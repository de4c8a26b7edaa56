"""Every ```python block of the README and of docs/ runs as written: the blocks of a page run in
order, in one fresh interpreter (the real kernels through the Triton interpreter without CUDA).

A block is left out only under an HTML comment on the line before its fence:
``<!-- skip: why -->``, or ``<!-- needs: cuda -->`` (run where CUDA is available)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_FENCE = re.compile(r"^(?P<indent> *)```python\s*$")
_MARK = re.compile(r"^\s*<!-- (?P<kind>skip|needs): (?P<what>.*?) -->\s*$")


def python_blocks(text):
    """(marker or None, code) of each ```python block, dedented to its fence."""
    lines, blocks, i = text.splitlines(), [], 0
    while i < len(lines):
        fence = _FENCE.match(lines[i])
        if not fence:
            i += 1
            continue
        mark = _MARK.match(lines[i - 1]) if i else None
        indent, body, i = len(fence["indent"]), [], i + 1
        while lines[i].strip() != "```":
            body.append(lines[i][indent:])
            i += 1
        blocks.append(((mark["kind"], mark["what"]) if mark else None, "\n".join(body) + "\n"))
        i += 1
    return blocks


def runnable(blocks):
    """The code of the blocks that run here, and the reasons of those that do not."""
    code, left_out = [], []
    for mark, body in blocks:
        if mark is None or (mark == ("needs", "cuda") and torch.cuda.is_available()):
            code.append(body)
        else:
            left_out.append(mark)
    return code, left_out


def test_the_collector_finds_the_blocks():
    counts = {page.name: len(python_blocks(page.read_text())) for page in PAGES}
    assert counts["README.md"] >= 1 and counts["usage.md"] == 5 and counts["how-it-runs.md"] == 1, counts
    assert python_blocks("x\n<!-- skip: no -->\n  ```python\n  a = 1\n  ```\n") == [(("skip", "no"), "a = 1\n")]


@pytest.mark.parametrize("page", [page for page in PAGES if python_blocks(page.read_text())], ids=lambda p: p.name)
def test_page_runs_as_written(page, tmp_path):
    code, left_out = runnable(python_blocks(page.read_text()))
    assert all(kind == "skip" or what == "cuda" for kind, what in left_out), left_out
    if not code:
        pytest.skip(f"every block needs what this machine lacks: {left_out}")
    script = tmp_path / f"{page.stem}.py"
    script.write_text("\n".join(code))
    env = dict(os.environ)
    if not torch.cuda.is_available():
        env["TRITON_INTERPRET"] = "1"
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
