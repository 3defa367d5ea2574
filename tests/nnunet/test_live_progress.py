"""Live progress of nnU-Net tools: status lines from nnU-Net's own output lines, logs without progress-bar redraws,
and ``run_nnunet`` streaming a real stock tool's output line by line."""

from __future__ import annotations

from pathlib import Path

from strokeseg.nnunet.folders import NnunetPaths
from strokeseg.nnunet.live_progress import SCHEDULE_LOG_PREFIX, NnunetProgress, clean_output
from strokeseg.nnunet.runner import run_nnunet

#: What nnUNetv2_train prints for two epochs (timestamps as nnU-Net writes them), strokeseg's schedule line first.
TRAINING_OUTPUT = f"""\
2026-12-06 02:05:00.000001: {SCHEDULE_LOG_PREFIX} 4 epochs of 25 iterations
2026-12-06 02:05:00.100000: Epoch 0
2026-12-06 02:05:00.100100: Current learning rate: 0.01
2026-12-06 02:05:30.000000: train_loss -0.1234
2026-12-06 02:05:30.000100: val_loss -0.2
2026-12-06 02:05:30.000200: Pseudo dice [np.float32(0.4), np.float32(0.6)]
2026-12-06 02:05:30.000300: Epoch time: 30.0 s
2026-12-06 02:05:30.000400: Yayy! New best EMA pseudo Dice: 0.5
2026-12-06 02:05:30.100000: Epoch 1
2026-12-06 02:06:00.000000: train_loss -0.3
2026-12-06 02:06:00.000200: Pseudo dice [0.7]
2026-12-06 02:06:00.000300: Epoch time: 10.0 s
"""


def _statuses(progress: NnunetProgress, text: str) -> list[str]:
    return [status for line in text.splitlines() if (status := progress.feed(line)) is not None]


def test_training_lines_give_one_status_per_epoch_with_loss_pseudo_dice_and_eta() -> None:
    assert _statuses(NnunetProgress(), TRAINING_OUTPUT) == [
        "epoch 1/4, loss -0.123, pseudo-Dice 0.500, 30 s/epoch, ETA 1.5 min",   # 3 epochs left at 30 s
        "epoch 2/4, loss -0.300, pseudo-Dice 0.700, 10 s/epoch, ETA 0.7 min",   # 2 left at the mean 20 s
    ]
    without_schedule = "\n".join(TRAINING_OUTPUT.splitlines()[1:])
    assert _statuses(NnunetProgress(), without_schedule)[0] == "epoch 1, loss -0.123, pseudo-Dice 0.500, 30 s/epoch"


def test_prediction_lines_count_the_cases() -> None:
    output = ("There are 3 cases in the source folder\nI am process 0 out of 1\n\nPredicting a_001:\n"
              "done with a_001\nPredicting b_002:\ndone with b_002\n")
    assert _statuses(NnunetProgress(), output) == ["predicted 1/3: a_001", "predicted 2/3: b_002"]


def test_prediction_without_workers_counts_the_cases_it_starts() -> None:
    """``-npp 0 -nps 0`` (nnU-Net's sequential mode) names no case; resuming counts only the cases left."""
    output = ("Running in non-multiprocessing mode\nThere are 3 cases in the source folder\n"
              "I am process 0 out of 1 (max process ID is 0, we start counting with 0!)\n"
              "There are 3 cases that I would like to predict\n"
              "overwrite was set to False, so I am only working on cases that haven't been predicted yet. "
              "That's 2 cases.\nperform_everything_on_device: False\nperform_everything_on_device: False\n")
    assert _statuses(NnunetProgress(), output) == ["predicting case 1/2", "predicting case 2/2"]


def test_clean_output_keeps_what_a_terminal_finally_shows() -> None:
    assert clean_output(" 10%|#  | 1/10\r 50%|#####  | 5/10\r100%|##########| 10/10") == "100%|##########| 10/10"
    assert clean_output("plain line") == "plain line"
    assert clean_output("done\r") == "done" and clean_output("") == ""


def test_run_nnunet_streams_a_stock_tool_line_by_line(tmp_path: Path) -> None:
    lines: list[str] = []
    log = tmp_path / "log.txt"
    # a stock tool without torch imports: its usage text is all this test needs
    run_nnunet("nnUNetv2_convert_MSD_dataset", ["-h"], NnunetPaths.under(tmp_path / "nnunet"), log,
               on_line=lines.append)
    assert any("usage: nnUNetv2_convert_MSD_dataset" in line for line in lines)
    text = log.read_text()
    assert all(line in text for line in lines if line) and "\r" not in text
