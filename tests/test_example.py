"""examples/train_retinanet_head.py runs, eager and compiled, and the two agree."""

import os
import subprocess
import sys

EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "examples", "train_retinanet_head.py")


def test_example_trains_eager_and_compiled():
    done = subprocess.run([sys.executable, EXAMPLE, "--steps", "4"], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    runs = [line for line in lines if line.endswith(("eager:", "compiled:"))]
    steps = [line.split()[2:] for line in lines if line.startswith("  steps ")]
    results = [line.split()[1:4:2] for line in lines if line.startswith("  loss ")]
    assert len(runs) == len(steps) == len(results) == 6  # three losses, eager and compiled
    for run, (first, last), losses in zip(runs, results, steps):
        assert len(losses) == 4 and losses[0] == first and losses[-1] == last  # every step printed
        assert float(last) < float(first), run  # the head learns
    for eager, compiled in zip(steps[::2], steps[1::2]):
        assert eager == compiled  # same numbers to 3 decimals
