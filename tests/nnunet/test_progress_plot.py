"""nnU-Net's progress.png redrawn at most once per interval (strokeseg.nnunet.progress_plot), with nnU-Net's real
logger drawing the real figure."""

from __future__ import annotations

import copy
import pickle
from pathlib import Path

import pytest
from nnunetv2.training.logging.nnunet_logger import MetaLogger

from strokeseg.nnunet.progress_plot import ThrottledProgressPlot
from strokeseg.trainers.base import StrokesegTrainer


class ManualClock:
    """Seconds that move only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def log_epoch(logger: ThrottledProgressPlot, epoch: int) -> None:
    """One epoch's values, as nnU-Net's trainer logs them (through the wrapper)."""
    for key, value in (("mean_fg_dice", 0.5), ("dice_per_class_or_region", [0.5]),
                       ("train_losses", -0.1), ("val_losses", -0.2), ("lrs", 0.01),
                       ("epoch_start_timestamps", 10.0 * epoch), ("epoch_end_timestamps", 10.0 * epoch + 9)):
        logger.log(key, value, epoch)


def end_epoch(logger: ThrottledProgressPlot, epoch: int, folder: Path) -> bool:
    """Log an epoch and call nnU-Net's epoch-end redraw; True when progress.png was (re)written."""
    log_epoch(logger, epoch)
    png = folder / "progress.png"
    png.unlink(missing_ok=True)
    logger.plot_progress_png(str(folder))
    return png.is_file()


@pytest.fixture
def meta_logger(tmp_path: Path) -> MetaLogger:
    return MetaLogger(str(tmp_path), False)


def test_redraws_once_the_interval_has_passed_and_flushes_the_last_epochs(meta_logger: MetaLogger,
                                                                          tmp_path: Path) -> None:
    clock = ManualClock()
    logger = ThrottledProgressPlot(meta_logger, interval_s=60.0, clock=clock)
    drawn = []
    for epoch, seconds in enumerate((25.0, 25.0, 25.0, 25.0, 25.0)):
        clock.now += seconds
        drawn.append(end_epoch(logger, epoch, tmp_path))
    # 25, 50 s: too early; 75 s: drawn; 100, 125 s: within 60 s of the redraw at 75 s
    assert drawn == [False, False, True, False, False]
    assert logger.pending
    logger.flush(str(tmp_path))
    assert (tmp_path / "progress.png").is_file() and not logger.pending
    (tmp_path / "progress.png").unlink()
    logger.flush(str(tmp_path))  # nothing new since: no redraw
    assert not (tmp_path / "progress.png").exists()


def test_interval_zero_redraws_after_every_epoch_as_nnunet(meta_logger: MetaLogger, tmp_path: Path) -> None:
    logger = ThrottledProgressPlot(meta_logger, interval_s=0.0, clock=ManualClock())
    assert [end_epoch(logger, epoch, tmp_path) for epoch in range(3)] == [True, True, True]


def test_the_wrapper_is_nnunets_logger_for_everything_else(meta_logger: MetaLogger) -> None:
    logger = ThrottledProgressPlot(meta_logger, interval_s=60.0, clock=ManualClock())
    log_epoch(logger, 0)
    assert logger.get_value("train_losses", step=-1) == -0.1
    assert logger.get_checkpoint() is meta_logger.get_checkpoint()
    logger.load_checkpoint({**meta_logger.get_checkpoint(), "lrs": [0.02]})
    assert meta_logger.get_value("lrs", step=None) == [0.02]


def test_the_wrapper_copies_and_pickles_with_its_logger(meta_logger: MetaLogger) -> None:
    logger = ThrottledProgressPlot(meta_logger, interval_s=60.0)
    log_epoch(logger, 0)
    for twin in (copy.deepcopy(logger), pickle.loads(pickle.dumps(logger))):
        assert twin.interval_s == 60.0 and twin.get_value("lrs", step=None) == [0.01]


def test_trainers_redraw_at_most_once_a_minute_by_default() -> None:
    assert StrokesegTrainer.progress_plot_interval_s == 60.0
