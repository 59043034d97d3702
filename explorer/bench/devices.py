"""The devices a run can use: which exist here, their names, free memory, and bf16 peaks.

torch is imported inside the functions that need it, so the peak table (and results.py,
which reads it) load without torch.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

# Dense (no sparsity) bf16 tensor-core peak, TFLOP/s, from the vendors' data sheets.
BF16_PEAK_TFLOPS = {
    "H200": 989.4,
    "H100 SXM": 989.4,
    "H100 80GB HBM3": 989.4,
    "H100 PCIe": 756.0,
    "H100 NVL": 835.0,
    "A100": 312.0,
    "L40S": 362.0,
    "L4": 121.0,
    "A10": 125.0,
    "RTX 4090": 165.2,
}


def bf16_peak(device_name: str) -> float | None:
    """The dense bf16 peak (TFLOP/s) of the device so named, or None when not in the table."""
    for key in sorted(BF16_PEAK_TFLOPS, key=len, reverse=True):
        if key.lower() in device_name.lower():
            return BF16_PEAK_TFLOPS[key]
    return None


def available_devices() -> list[str]:
    import torch

    out = ["cpu"]
    if torch.cuda.is_available():
        out += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        out.append("mps")
    return out


def device_labels() -> list[tuple[str, str]]:
    """(device, label) for each available device, e.g. ("cuda:0", "cuda:0  NVIDIA H100 80GB HBM3")."""
    import torch

    out = []
    for dev in available_devices():
        label = dev
        if dev.startswith("cuda:"):
            label = f"{dev}  {torch.cuda.get_device_name(int(dev.split(':')[1]))}"
        out.append((dev, label))
    return out


def device_name(device: torch.device) -> str:
    import torch

    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "cpu":
        threads = torch.get_num_threads()
        return f"CPU ({os.cpu_count()} cores, {threads} torch thread{'' if threads == 1 else 's'})"
    return device.type


def free_bytes(device: torch.device) -> int | None:
    """Bytes free on the device: CUDA's free memory, the host's available memory for the CPU, else None."""
    if device.type == "cuda":
        import torch

        free, _total = torch.cuda.mem_get_info(device)
        return free
    if device.type == "cpu":
        try:
            with open("/proc/meminfo") as fh:
                for line in fh:
                    if line.startswith("MemAvailable:"):
                        return int(line.split()[1]) * 1024
        except OSError:
            return None
    return None


def sync(device: torch.device) -> None:
    """Wait for the device's queued work (CUDA, MPS), so the clock reads finished work."""
    if device.type == "cuda":
        import torch

        torch.cuda.synchronize(device)
    elif device.type == "mps":
        import torch

        torch.mps.synchronize()
