"""`python -m focal_triton`, the README's main command, runs the kernels and finds no error."""

import subprocess
import sys


def test_main_command_checks_the_kernels():
    done = subprocess.run(
        [sys.executable, "-m", "focal_triton"], capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "backend: triton" in done.stdout  # 'triton' on CUDA, 'triton-interpreter' on the CPU
    assert "all checks passed" in done.stdout
    assert "FAILED" not in done.stdout
