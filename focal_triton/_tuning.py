"""Shipped launch configurations per GPU architecture, written by ``focal-triton tune --save``.

``focal_triton/configs/sm<major><minor>.json`` maps kernel -> "bucket|dtype|..." ->
{"BLOCK": ..., "num_warps": ...}.  A launcher uses the entry for the running
GPU when there is one, and ``triton.autotune`` otherwise;
FOCAL_TRITON_CONFIGS=0 ignores the tables (``tune`` sets it to measure afresh).
"""

import functools
import json
import os
from pathlib import Path

import torch

from ._backend import interpreter_enabled

CONFIG_DIR = Path(__file__).parent / "configs"


def size_bucket(n):
    """ceil(log2(n)): the autotune key, so a training loop tunes once per bucket, not per size."""
    return max(n - 1, 0).bit_length()


def table_path(capability):
    major, minor = capability
    return CONFIG_DIR / f"sm{major}{minor}.json"


def table_key(n, *dtypes):
    return "|".join([str(size_bucket(n)), *(str(d).replace("torch.", "") for d in dtypes)])


@functools.cache
def _table(capability):
    path = table_path(capability)
    return json.loads(path.read_text()) if path.exists() else {}


def shipped_config(kernel_name, tensor, n, *dtypes):
    """The shipped {"BLOCK", "num_warps"} for this kernel, size bucket and dtypes on the
    tensor's GPU, or None (not CUDA, interpreter, tables off, or no entry)."""
    if not tensor.is_cuda or interpreter_enabled() or os.environ.get("FOCAL_TRITON_CONFIGS") == "0":
        return None
    table = _table(torch.cuda.get_device_capability(tensor.device))
    return table.get(kernel_name, {}).get(table_key(n, *dtypes))
