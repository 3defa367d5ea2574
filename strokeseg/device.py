"""The one place where ``--device auto|cpu|cuda`` is resolved; every step that computes takes its answer."""

from __future__ import annotations

from strokeseg.errors import ConfigurationError

#: Values ``--device`` accepts everywhere.
DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda")


def cuda_available() -> bool:
    """Whether torch sees a CUDA GPU (False when torch is missing)."""
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return False
    return bool(torch.cuda.is_available())


def visible_gpus() -> int:
    """Number of CUDA devices torch sees (0 without CUDA)."""
    if not cuda_available():
        return 0
    import torch

    return int(torch.cuda.device_count())


def resolve_device(device: str) -> str:
    """Map ``auto`` to ``cuda`` when torch sees a GPU, else ``cpu``; reject ``cuda`` without a GPU.

    Raises:
        ConfigurationError: unknown device, or ``cuda`` requested but no GPU is visible.
    """
    if device not in DEVICES:
        raise ConfigurationError(f"--device must be one of {', '.join(DEVICES)}, got {device!r}")
    if device == "auto":
        return "cuda" if cuda_available() else "cpu"
    if device == "cuda" and not cuda_available():
        raise ConfigurationError("--device cuda was requested but torch sees no CUDA GPU "
                                 "(check CUDA_VISIBLE_DEVICES and the torch build); use --device cpu or auto")
    return device
