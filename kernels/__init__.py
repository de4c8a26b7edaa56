"""Triton kernels of focal_triton (installed as ``focal_triton.kernels``).

Only ``@triton.jit`` functions and their compile-time helpers live here; the
launchers, validation and autograd wiring are in :mod:`focal_triton`.
"""
