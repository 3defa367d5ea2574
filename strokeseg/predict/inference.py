"""Running the model's members on one case through nnU-Net's own predictor.

Each member is an ``nnUNetPredictor`` initialised from its fold (``initialize_from_trained_model_folder``), and a
case is predicted with ``predict_from_files_sequential``: the preprocessing named in the plans (strokeseg's
preprocessors included, through the plans' ``preprocessor_name``), sliding-window inference with the
checkpoint's mirroring axes, and the resampling back to the input grid are nnU-Net's, as in ``nnUNetv2_predict``.
Only the results are kept in memory instead of being written: the class probabilities of every member, from which
the ensemble's mean probability and Kim et al.'s index are computed.
"""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from strokeseg.errors import ExternalToolError
from strokeseg.nnunet.probabilities import foreground_probability
from strokeseg.predict.model import TrainedModel

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MemberPrediction:
    """One member's result on one case: foreground probability (z, y, x) on the input grid, and its label map."""

    probability: np.ndarray
    label_map: np.ndarray


class ModelPredictor:
    """The loaded members of a :class:`~strokeseg.predict.model.TrainedModel` on one device (``cpu``/``cuda``)."""

    def __init__(self, model: TrainedModel, device: str, *, tile_step_size: float = 0.5,
                 use_mirroring: bool = True) -> None:
        import torch
        from nnunetv2.inference.predict_from_raw_data import nnUNetPredictor

        self.model = model
        self.device = device
        self._predictors: list[Any] = []
        for member in model.members:
            with _quiet():
                predictor = nnUNetPredictor(tile_step_size=tile_step_size, use_mirroring=use_mirroring,
                                            perform_everything_on_device=device == "cuda",
                                            device=torch.device(device), verbose=False, allow_tqdm=False)
                predictor.initialize_from_trained_model_folder(
                    str(member.folder), use_folds=(member.fold if member.fold == "all" else int(member.fold),),
                    checkpoint_name=model.checkpoint)
            self._predictors.append(predictor)
        logger.info("loaded %d member(s) of %s on %s", len(self._predictors), model.path, device)

    def predict(self, files: Sequence[Path]) -> list[MemberPrediction]:
        """Every member's prediction of the case whose channel files (``_0000``, ``_0001``, ...) are ``files``.

        Raises:
            ExternalToolError: nnU-Net fails on the case (the message quotes its error).
        """
        results = []
        for member, predictor in zip(self.model.members, self._predictors, strict=True):
            try:
                with _quiet():
                    label_map, probabilities = predictor.predict_from_files_sequential(
                        [[str(path) for path in files]], None, save_probabilities=True)[0]
            except Exception as error:  # any failure inside nnU-Net is this case's, not the run's
                raise ExternalToolError(f"nnU-Net failed to predict {files[0].name} with member {member.name}: "
                                        f"{type(error).__name__}: {error}") from error
            results.append(MemberPrediction(foreground_probability(np.asarray(probabilities, dtype=np.float32)),
                                            np.asarray(label_map)))
        return results


@contextlib.contextmanager
def _quiet() -> Any:
    """nnU-Net prints progress lines per case on stdout; they go to the debug log instead."""
    captured = io.StringIO()
    with contextlib.redirect_stdout(captured):
        yield
    for line in captured.getvalue().splitlines():
        logger.debug("nnU-Net: %s", line)
