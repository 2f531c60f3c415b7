"""Where the models run: CUDA when a device exists, else the CPU; always float64."""

from __future__ import annotations

import torch

DTYPE = torch.float64


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """The torch device to use: the one given, else ``cuda`` when available, else ``cpu``.

    Raises:
        ValueError: the given device does not exist here.
    """
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device: {str(device)!r} was asked for, but no CUDA device is available")
    return dev
