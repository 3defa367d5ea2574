"""Learning-rate schedules as pure functions of the epoch, and a scheduler that applies one.

nnU-Net calls ``lr_scheduler.step(current_epoch)`` at the start of every epoch; a schedule that depends on the
epoch alone is therefore resumed exactly by ``--c`` without any scheduler state in the checkpoint.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from torch import Tensor
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

from strokeseg.errors import ConfigurationError

#: nnU-Net's poly exponent.
POLY_EXPONENT = 0.9

EpochSchedule = Callable[[int], float]


def poly_lr(epoch: int, num_epochs: int, initial_lr: float, exponent: float = POLY_EXPONENT) -> float:
    """nnU-Net's polynomial decay: ``initial_lr * (1 - epoch / num_epochs) ** exponent``."""
    return initial_lr * (1.0 - min(epoch, num_epochs) / num_epochs) ** exponent


def constant_lr(epoch: int, initial_lr: float) -> float:
    """The same learning rate at every epoch (papers that state none of a decay)."""
    del epoch
    return initial_lr


def time_based_lr(epoch: int, initial_lr: float, decay: float, iterations_per_epoch: int) -> float:
    """Keras's time-based decay ``initial_lr / (1 + decay * iterations)`` at the start of ``epoch``.

    Keras lowers the LR after every batch (iteration); nnU-Net sets it once per epoch, so ``iterations`` is the
    number of iterations before this epoch, ``epoch * iterations_per_epoch``, and the LR is held for the epoch
    (within an epoch of N iterations Keras's LR falls below this value by at most a factor 1 + decay * N: 2.5 % for
    N = 7,500 iterations, about 60,000 slices at batch 8, and decay = 1e-3 / 300).
    """
    if decay < 0 or iterations_per_epoch < 1:
        raise ConfigurationError(f"time-based decay needs decay >= 0 and at least one iteration per epoch, got "
                                 f"decay {decay}, {iterations_per_epoch} iterations")
    return initial_lr / (1.0 + decay * epoch * iterations_per_epoch)


def cosine_warm_restarts_lr(epoch: int, period: int, initial_lr: float, min_lr: float = 0.0,
                           restart_factor: int = 1) -> float:
    """Cosine annealing with warm restarts (Loshchilov & Hutter, SGDR): back to ``initial_lr`` at every restart.

    The first cycle lasts ``period`` epochs, each later one ``restart_factor`` times as long as the one before
    (SGDR's T_0 and T_mult; torch's ``CosineAnnealingWarmRestarts`` at whole epochs).
    """
    if period < 1:
        raise ConfigurationError(f"the restart period must be at least one epoch, got {period}")
    if restart_factor < 1:
        raise ConfigurationError(f"the restart factor must be a whole number of at least 1, got {restart_factor}")
    position, length = epoch, period
    while position >= length:
        position -= length
        length *= restart_factor
    return min_lr + 0.5 * (initial_lr - min_lr) * (1.0 + math.cos(math.pi * position / length))


def warmup_poly_lr(epoch: int, num_epochs: int, peak_lr: float, warmup_epochs: int,
                   exponent: float = POLY_EXPONENT) -> float:
    """Linear warm-up over ``warmup_epochs`` (``peak_lr * (epoch + 1) / (warmup_epochs + 1)``), then poly decay
    from ``peak_lr`` (reached at epoch ``warmup_epochs``) over the remaining epochs."""
    if not 0 < warmup_epochs < num_epochs:
        raise ConfigurationError(f"warm-up must last 1..{num_epochs - 1} epochs of a {num_epochs}-epoch run, "
                                 f"got {warmup_epochs}")
    if epoch < warmup_epochs:
        return peak_lr * (epoch + 1) / (warmup_epochs + 1)
    return poly_lr(epoch - warmup_epochs, num_epochs - warmup_epochs, peak_lr, exponent)


def zoom_in_out_lr(epoch: int, switch_epoch: int, num_epochs: int, zoom_in_lr: float, zoom_out_lr: float,
                   restart_cycles: int, zoom_in_decay: str = "constant", restart_period: int | None = None,
                   restart_factor: int = 1) -> float:
    """Zoom-in & out schedule (Tomita et al.).

    Epochs before ``switch_epoch``: ``zoom_in_lr``, constant (``zoom_in_decay="constant"``), poly-decayed over
    the zoom-in phase (``"poly"``, nnU-Net's SGD style) or annealed with warm restarts like the zoom-out phase
    (``"warm_restarts"``, the paper). From ``switch_epoch`` on: cosine annealing with warm restarts starting at
    ``zoom_out_lr``: a first cycle of ``restart_period`` epochs, each later one ``restart_factor`` times longer,
    or (``restart_period`` None) ``restart_cycles`` equal cycles over the phase.
    """
    if not 0 < switch_epoch < num_epochs:
        raise ConfigurationError(f"the zoom switch epoch must lie in 1..{num_epochs - 1}, got {switch_epoch}")
    if epoch < switch_epoch:
        if zoom_in_decay == "constant":
            return zoom_in_lr
        if zoom_in_decay == "poly":
            return poly_lr(epoch, switch_epoch, zoom_in_lr)
        if zoom_in_decay == "warm_restarts":
            period, factor = _restart_cycle(switch_epoch, restart_cycles, restart_period, restart_factor)
            return cosine_warm_restarts_lr(epoch, period, zoom_in_lr, restart_factor=factor)
        raise ConfigurationError(f"unknown zoom-in decay {zoom_in_decay!r} (constant, poly or warm_restarts)")
    period, factor = _restart_cycle(num_epochs - switch_epoch, restart_cycles, restart_period, restart_factor)
    return cosine_warm_restarts_lr(epoch - switch_epoch, period, zoom_out_lr, restart_factor=factor)


def _restart_cycle(phase_epochs: int, cycles: int, period: int | None, factor: int) -> tuple[int, int]:
    """(first cycle, restart factor): the given ones, or ``cycles`` equal cycles over ``phase_epochs``."""
    if period is None:
        return max(1, math.ceil(phase_epochs / max(1, cycles))), 1
    return period, factor


class EpochLRScheduler(LRScheduler):
    """Sets every parameter group's LR to ``schedule(epoch)``; ``step(epoch)`` as nnU-Net calls it."""

    def __init__(self, optimizer: Optimizer, schedule: EpochSchedule) -> None:
        self.schedule = schedule
        self.current_epoch = -1  # the base class's initial step() moves it to epoch 0
        super().__init__(optimizer, last_epoch=-1)

    def get_lr(self) -> list[float | Tensor]:
        return [self.schedule(self.current_epoch) for _ in self.optimizer.param_groups]

    def step(self, epoch: int | None = None) -> None:
        """Apply the LR of ``epoch`` (or of the next epoch when omitted)."""
        self.current_epoch = self.current_epoch + 1 if epoch is None else int(epoch)
        lr = self.schedule(self.current_epoch)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self._last_lr = [lr for _ in self.optimizer.param_groups]
