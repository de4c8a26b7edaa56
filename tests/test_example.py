"""examples/train_retinanet_head.py runs, eager and compiled, and the two agree."""

import os
import subprocess
import sys

EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "examples", "train_retinanet_head.py")


def test_example_trains_eager_and_compiled():
    done = subprocess.run([sys.executable, EXAMPLE, "--steps", "4"], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = [line for line in done.stdout.splitlines() if " loss: " in line]
    assert len(lines) == 6  # three losses, eager and compiled
    for eager, compiled in zip(lines[::2], lines[1::2]):
        assert "eager" in eager and "compiled" in compiled
        assert eager.split("loss:")[1] == compiled.split("loss:")[1]  # same numbers to 3 decimals
