"""examples/train_retinanet_head.py runs, eager and compiled, and the two agree."""

import os
import subprocess
import sys

EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "examples", "train_retinanet_head.py")


def _run_example(*args):
    done = subprocess.run([sys.executable, EXAMPLE, "--steps", "4", *args], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    runs = [line for line in lines if line.endswith(("eager:", "compiled:"))]
    steps = [line.split()[2:] for line in lines if line.startswith("  steps ")]
    results = [line.split()[1:4:2] for line in lines if line.startswith("  loss ")]
    assert len(runs) == len(steps) == len(results)
    for run, (first, last), losses in zip(runs, results, steps):
        assert len(losses) == 4 and losses[0] == first and losses[-1] == last  # every step printed
        assert float(last) < float(first), run  # the head learns
    return runs, steps


def test_example_trains_every_loss():
    runs, _ = _run_example("--no-compile")
    assert [run.split(",")[0] for run in runs] == ["sigmoid (class indices)", "sigmoid (one-hot)", "softmax"]


def test_example_compiled_gives_the_eager_numbers():
    """One loss compiled (on a fresh machine each compiled run builds Inductor's C++ kernels)."""
    runs, steps = _run_example("--losses", "softmax")
    assert runs == ["softmax, eager:", "softmax, compiled:"]
    assert steps[0] == steps[1]  # same numbers to 3 decimals
