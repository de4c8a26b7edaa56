"""Perf harness of focal_triton (installed as ``focal_triton.perf``): bench, tune, report."""
