"""Random training batches shaped for an initialized nnU-Net trainer (speed benchmarks, device checks)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def random_training_batch(trainer: Any, patch: Sequence[int], batch_size: int, seed: int = 0) -> dict[str, Any]:
    """Normal intensities and random binary labels at every deep-supervision resolution ``trainer`` expects.

    ``trainer`` is an initialized ``nnUNetTrainer`` (its input channels and deep-supervision scales are used);
    ``patch`` is the spatial patch in voxels. The tensors are on the CPU, as nnU-Net's data loader yields them
    (``train_step`` moves them to the trainer's device).
    """
    import torch

    generator = torch.Generator().manual_seed(seed)
    data = torch.randn((batch_size, trainer.num_input_channels, *patch), generator=generator)
    scales = trainer._get_deep_supervision_scales() or [[1.0] * len(patch)]
    targets = [torch.randint(0, 2, (batch_size, 1, *[max(1, round(p * s)) for p, s in zip(patch, scale, strict=True)]),
                             generator=generator).float() for scale in scales]
    return {"data": data, "target": targets if trainer.enable_deep_supervision else targets[0]}
