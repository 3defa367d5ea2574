"""Live progress of a running nnU-Net tool, read from the lines it prints (training epochs, predicted cases).

``nnUNetv2_train`` prints, per epoch, ``Epoch N``, ``train_loss X``, ``val_loss X``, ``Pseudo dice [..]`` and
``Epoch time: X s`` (each after a timestamp); strokeseg's trainers add ``strokeseg schedule: E epochs of I
iterations`` when training starts, which gives the epoch count for an ETA. ``nnUNetv2_predict`` prints ``There are
N cases in the source folder`` (and, resuming with ``--continue_prediction``, ``...That's M cases.``: those left to
predict), then per case ``Predicting CASE:`` and ``done with CASE`` with worker processes, or
only ``perform_everything_on_device: BOOL`` without them (``-npp 0 -nps 0``, before the case is predicted).
:class:`NnunetProgress` turns these into one short status line per finished epoch, predicted case (with worker
processes) or case started (without); other lines give none.

:func:`clean_output` removes progress-bar redraws (text before a carriage return) from a chunk of output, so
that log files keep one line per event.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

#: Prefix of the line strokeseg's trainers print when training starts (see ``StrokesegTrainer.on_train_start``).
SCHEDULE_LOG_PREFIX = "strokeseg schedule:"

_TIMESTAMP = r"^(?:\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: )?"
_SCHEDULE = re.compile(_TIMESTAMP + re.escape(SCHEDULE_LOG_PREFIX) + r" (\d+) epochs")
_EPOCH = re.compile(_TIMESTAMP + r"Epoch (\d+)\s*$")
_TRAIN_LOSS = re.compile(_TIMESTAMP + r"train_loss (-?[\d.e+-]+)")
_PSEUDO_DICE = re.compile(_TIMESTAMP + r"Pseudo dice \[(.*)\]")
_EPOCH_TIME = re.compile(_TIMESTAMP + r"Epoch time: ([\d.]+) s")
_CASES = re.compile(r"^There are (\d+) cases in the source folder")
_CASES_LEFT = re.compile(r"^overwrite was set to False.*That's (\d+) cases\.")
_DONE_CASE = re.compile(r"^done with (\S+)")
_IN_PROCESS_CASE = re.compile(r"^perform_everything_on_device: (?:True|False)$")


def clean_output(text: str) -> str:
    """``text`` with every progress-bar redraw removed: of the parts of a line separated by carriage returns,
    only the last non-empty one is kept (what a terminal finally shows)."""
    lines = []
    for line in text.split("\n"):
        parts = [part for part in line.split("\r") if part.strip()]
        lines.append(parts[-1] if parts else "")
    return "\n".join(lines)


def _numbers(text: str) -> list[float]:
    values = []
    for item in text.split(","):
        item = item.strip().removeprefix("np.float32(").removeprefix("np.float64(").rstrip(")")
        try:
            values.append(float(item))
        except ValueError:
            continue
    return values


@dataclass
class NnunetProgress:
    """Reads an nnU-Net tool's output line by line; :meth:`feed` returns a status line when an epoch ends or a case
    is predicted, else None.

    Attributes:
        total_epochs: epochs of the training (from strokeseg's schedule line; None: unknown, no ETA).
        total_cases: cases the prediction will write (None: unknown).
    """

    total_epochs: int | None = None
    total_cases: int | None = None
    _epoch: int | None = None
    _loss: float | None = None
    _dice: list[float] = field(default_factory=list)
    _epoch_seconds: list[float] = field(default_factory=list)
    _done_cases: int = 0
    _started_cases: int = 0

    def feed(self, line: str) -> str | None:
        """Take one output line; returns the status line it completes, if any."""
        line = line.strip()
        if match := _SCHEDULE.match(line):
            self.total_epochs = int(match.group(1))
        elif match := _EPOCH.match(line):
            self._epoch, self._loss, self._dice = int(match.group(1)), None, []
        elif match := _TRAIN_LOSS.match(line):
            self._loss = float(match.group(1))
        elif match := _PSEUDO_DICE.match(line):
            self._dice = _numbers(match.group(1))
        elif match := _EPOCH_TIME.match(line):
            self._epoch_seconds.append(float(match.group(1)))
            return self._epoch_line()
        elif match := _CASES.match(line) or _CASES_LEFT.match(line):
            self.total_cases = int(match.group(1))
        elif match := _DONE_CASE.match(line):
            self._done_cases += 1
            return f"predicted {self._done_cases}{self._total_text()}: {match.group(1)}"
        elif _IN_PROCESS_CASE.match(line):
            self._started_cases += 1
            return f"predicting case {self._started_cases}{self._total_text()}"
        return None

    def _total_text(self) -> str:
        return f"/{self.total_cases}" if self.total_cases else ""

    def _epoch_line(self) -> str:
        number = (self._epoch or 0) + 1
        parts = [f"epoch {number}" + (f"/{self.total_epochs}" if self.total_epochs else "")]
        if self._loss is not None:
            parts.append(f"loss {self._loss:.3f}")
        if self._dice:
            parts.append(f"pseudo-Dice {sum(self._dice) / len(self._dice):.3f}")
        seconds = self._epoch_seconds[-1]
        parts.append(f"{seconds:.0f} s/epoch")
        if self.total_epochs:
            remaining = max(0, self.total_epochs - number)
            mean = sum(self._epoch_seconds) / len(self._epoch_seconds)
            parts.append(f"ETA {remaining * mean / 60:.1f} min")
        return ", ".join(parts)
