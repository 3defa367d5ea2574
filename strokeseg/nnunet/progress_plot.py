"""nnU-Net's ``progress.png``, redrawn at most once per interval instead of after every epoch.

nnU-Net redraws ``progress.png`` (loss, pseudo Dice, epoch time and learning rate; a 3000 × 5400-pixel figure) at
the end of every epoch. That costs about one second of the training process each time (0.88 s on a 2-core CPU
machine, benchmarks/bench_progress_plot.py): 3 % of a 30-second CPU epoch, and as much on a GPU whose 2D epochs
take tens of seconds.
:class:`ThrottledProgressPlot` wraps the trainer's logger so that the figure is redrawn only when at least
``interval_s`` seconds have passed since the last redraw (or since the trainer started), and once more when
training ends if epochs were left out; the figure itself and every logged value are nnU-Net's.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

#: Seconds between two redraws of progress.png during training (trainer attribute ``progress_plot_interval_s``).
DEFAULT_PROGRESS_PLOT_INTERVAL_S = 60.0


class ThrottledProgressPlot:
    """nnU-Net's trainer logger (``MetaLogger``) whose ``plot_progress_png`` redraws at most every ``interval_s``.

    Every other attribute is the wrapped logger's. ``interval_s`` ≤ 0 redraws after every epoch (nnU-Net's
    behaviour). ``clock``: seconds (monotonic); the interval starts when the wrapper is made.
    """

    def __init__(self, logger: Any, interval_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.wrapped = logger
        self.interval_s = interval_s
        self.clock = clock
        self.last_redraw = clock()
        #: True when an epoch ended after the last redraw without redrawing (``flush`` draws it).
        self.pending = False

    def __getattr__(self, name: str) -> Any:
        # only called for names this wrapper lacks: nnU-Net's log, get_value, get_checkpoint, update_config, ...
        if name == "wrapped":  # not set yet (e.g. while copying or unpickling): no endless recursion
            raise AttributeError(name)
        return getattr(self.wrapped, name)

    def plot_progress_png(self, output_folder: str) -> None:
        """nnU-Net's epoch-end redraw, skipped while the last redraw is less than ``interval_s`` seconds old."""
        if self.interval_s > 0 and self.clock() - self.last_redraw < self.interval_s:
            self.pending = True
            return
        self.redraw(output_folder)

    def flush(self, output_folder: str) -> None:
        """Redraw if an epoch ended since the last redraw (at the end of training: the figure shows every epoch)."""
        if self.pending:
            self.redraw(output_folder)

    def redraw(self, output_folder: str) -> None:
        """nnU-Net's ``plot_progress_png`` now."""
        self.wrapped.plot_progress_png(output_folder)
        self.last_redraw = self.clock()
        self.pending = False
