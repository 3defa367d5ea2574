"""nnU-Net's progress.png after every epoch against strokeseg's redraw at most once per interval.

Times nnU-Net's own ``plot_progress_png`` (its ``MetaLogger`` with a real figure written to a temporary folder) for a
training of ``--epochs-logged`` epochs, then replays training schedules (epochs × seconds per epoch) on a simulated
clock through :class:`strokeseg.nnunet.progress_plot.ThrottledProgressPlot`, redrawing for real, and counts the
redraws. Printed: seconds per redraw, and per schedule the redraws and plotting seconds of nnU-Net (every epoch)
and strokeseg (``--interval`` s, plus the final flush), and their ratio. The default schedules are the demo's
trainings on a 2-core CPU: the source model (10 epochs of about 28 s) and the fine-tuning and control arms
(3 epochs of about 25 s each)::

    .venv/bin/python benchmarks/bench_progress_plot.py
    .venv/bin/python benchmarks/bench_progress_plot.py --schedules 1000x40 1000x15 --interval 60
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from nnunetv2.training.logging.nnunet_logger import MetaLogger

from strokeseg.nnunet.progress_plot import DEFAULT_PROGRESS_PLOT_INTERVAL_S, ThrottledProgressPlot


class SimulatedClock:
    """Seconds of a simulated training: epochs move it on, and so does every real redraw."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def log_epoch(logger: MetaLogger | ThrottledProgressPlot, epoch: int, seconds: float) -> None:
    """One epoch's values, as nnU-Net's trainer logs them (the logger derives ema_fg_dice itself)."""
    values = {"mean_fg_dice": 0.5, "dice_per_class_or_region": [0.5], "train_losses": -0.1,
              "val_losses": -0.2, "lrs": 0.01, "epoch_start_timestamps": seconds * epoch,
              "epoch_end_timestamps": seconds * (epoch + 1)}
    for key, value in values.items():
        logger.log(key, value, epoch)


def redraw_seconds(epochs: int, repeats: int, folder: Path) -> float:
    """Median seconds of nnU-Net's plot_progress_png with ``epochs`` epochs logged."""
    logger = MetaLogger(str(folder), False)
    for epoch in range(epochs):
        log_epoch(logger, epoch, 30.0)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        logger.plot_progress_png(str(folder))
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def throttled_redraws(epochs: int, epoch_seconds: float, interval_s: float, folder: Path) -> int:
    """Redraws of a training of ``epochs`` × ``epoch_seconds`` through the wrapper (real figures, simulated epochs)."""
    clock = SimulatedClock()
    logger = ThrottledProgressPlot(MetaLogger(str(folder), False), interval_s, clock)
    redraws = 0
    png = folder / "progress.png"
    for epoch in range(epochs):
        clock.now += epoch_seconds
        log_epoch(logger, epoch, epoch_seconds)
        png.unlink(missing_ok=True)
        started = time.perf_counter()
        logger.plot_progress_png(str(folder))
        clock.now += time.perf_counter() - started
        redraws += png.is_file()
    png.unlink(missing_ok=True)
    logger.flush(str(folder))
    return redraws + png.is_file()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--schedules", nargs="+", default=["10x28", "3x25", "3x25"],
                        help="trainings as EPOCHSxSECONDS_PER_EPOCH (default: the demo's three on a 2-core CPU)")
    parser.add_argument("--interval", type=float, default=DEFAULT_PROGRESS_PLOT_INTERVAL_S,
                        help="strokeseg's redraw interval in seconds (default: the trainers' default)")
    parser.add_argument("--epochs-logged", type=int, default=10, help="epochs in the timed figure (default 10)")
    parser.add_argument("--repeats", type=int, default=5, help="timed redraws (median; default 5)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_progress_plot_") as folder:
        seconds = redraw_seconds(args.epochs_logged, args.repeats, Path(folder))
        print(f"nnU-Net's plot_progress_png ({args.epochs_logged} epochs logged): {seconds:.2f} s per redraw "
              f"(median of {args.repeats})")
        print(f"{'schedule':<14}{'nnU-Net':>9}{'strokeseg':>11}{'saved s':>9}")
        total_nnunet = total_strokeseg = 0
        for schedule in args.schedules:
            epochs, epoch_seconds = schedule.lower().split("x")
            redraws = throttled_redraws(int(epochs), float(epoch_seconds), args.interval, Path(folder))
            total_nnunet, total_strokeseg = total_nnunet + int(epochs), total_strokeseg + redraws
            print(f"{schedule:<14}{epochs:>9}{redraws:>11}{(int(epochs) - redraws) * seconds:>9.1f}")
    print(f"all: {total_nnunet} redraws ({total_nnunet * seconds:.1f} s) vs {total_strokeseg} "
          f"({total_strokeseg * seconds:.1f} s) with a {args.interval:g}-s interval: "
          f"{total_nnunet / max(total_strokeseg, 1):.2f}x fewer, {(total_nnunet - total_strokeseg) * seconds:.1f} s "
          "saved")


if __name__ == "__main__":
    main()
