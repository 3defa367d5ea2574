"""Run the demo's stages in order, show progress, skip stages finished by an earlier run.

A stage is done when its marker ``<out>/.stages/<name>.json`` exists and every output it names exists. The
marker is written (atomically) only after the stage returned, so an interrupted stage runs again on the next
call (the nnU-Net steps themselves resume: training from its latest checkpoint, prediction with
``--continue_prediction``). The demo folder carries ``.strokeseg_demo.json`` with the run's settings: a rerun
with other settings is refused unless ``overwrite`` starts over, and a folder without it is never deleted.
"""

from __future__ import annotations

import json
import logging
import shutil
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from strokeseg.errors import OutputExistsError
from strokeseg.io import write_json_atomic

logger = logging.getLogger(__name__)

#: File in the demo folder that marks it as written by ``strokeseg demo`` and records its settings.
DEMO_MARKER = ".strokeseg_demo.json"
#: Folder of the per-stage done markers.
STAGES_FOLDER = ".stages"


@dataclass(frozen=True)
class Stage:
    """One step of the demo.

    Attributes:
        name: identifier (marker file name, ``SUMMARY.md`` timing table).
        title: what the stage does, shown while it runs.
        run: does the work; its return value is ignored (idempotent: a rerun after an interruption must not fail
            on its own partial output).
        outputs: files that exist once the stage is done.
        log: where the stage's tools write their output (shown while it runs, for ``tail -f``), if anywhere.
    """

    name: str
    title: str
    run: Callable[[], object]
    outputs: Callable[[], Sequence[Path]]
    log: Path | None = None


@dataclass(frozen=True)
class StageRecord:
    """What the marker of a finished stage holds: duration (seconds) and whether this call ran it."""

    name: str
    title: str
    seconds: float
    ran_now: bool


def prepare_folder(out: Path, settings: Mapping[str, Any], overwrite: bool) -> None:
    """Create or check the demo folder ``out`` for a run with ``settings``.

    Raises:
        OutputExistsError: ``out`` holds other data (never deleted), or a demo with other settings and
            ``overwrite`` is false.
    """
    marker = out / DEMO_MARKER
    if out.exists() and any(out.iterdir()):
        if not marker.is_file():
            raise OutputExistsError(f"{out} is not empty and was not written by `strokeseg demo`; refusing to use or "
                                    "delete it (even with --overwrite); choose another --out")
        if overwrite:
            logger.info("--overwrite: deleting the earlier demo in %s", out)
            shutil.rmtree(out)
        else:
            recorded = json.loads(marker.read_text(encoding="utf-8")).get("settings")
            if recorded != json.loads(json.dumps(settings)):
                changed = _difference(recorded, settings)
                raise OutputExistsError(f"{out} holds a demo run with other settings ({changed}); pass --overwrite "
                                        "to start over, or choose another --out")
            logger.info("resuming the demo in %s", out)
            return
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(marker, {"written_by": "strokeseg demo", "settings": settings})


def _difference(recorded: Any, settings: Mapping[str, Any]) -> str:
    if not isinstance(recorded, dict):
        return "unreadable settings"
    changed = sorted(key for key in set(recorded) | set(settings) if recorded.get(key) != settings.get(key))
    return ", ".join(f"{key}: {recorded.get(key)!r} then, {settings.get(key)!r} now" for key in changed[:3])


def marker_path(out: Path, stage: str) -> Path:
    """The done marker of ``stage``."""
    return out / STAGES_FOLDER / f"{stage}.json"


def is_done(out: Path, stage: Stage) -> bool:
    """Whether ``stage`` finished in an earlier run (marker and every output present)."""
    return marker_path(out, stage.name).is_file() and all(path.exists() for path in stage.outputs())


def run_stages(out: Path, stages: Sequence[Stage], stream: TextIO | None = None) -> list[StageRecord]:
    """Run the stages that are not done yet, in order; returns one record per stage.

    Progress lines (``[3/14] title``) go to ``stream`` (default: stdout). A failing stage raises its error;
    the stages before it stay done.
    """
    stream = stream if stream is not None else sys.stdout
    records = []
    for number, stage in enumerate(stages, start=1):
        prefix = f"[{number}/{len(stages)}] {stage.title}"
        marker = marker_path(out, stage.name)
        if is_done(out, stage):
            seconds = float(json.loads(marker.read_text(encoding="utf-8")).get("seconds", 0.0))
            print(f"{prefix}: done in an earlier run ({seconds:.0f} s), skipped", file=stream, flush=True)
            records.append(StageRecord(stage.name, stage.title, seconds, False))
            continue
        print(f"{prefix} ..." + (f" (log: {stage.log})" if stage.log is not None else ""), file=stream, flush=True)
        start = time.perf_counter()
        stage.run()
        seconds = time.perf_counter() - start
        missing = [str(path) for path in stage.outputs() if not path.exists()]
        if missing:
            raise RuntimeError(f"demo stage {stage.name} finished without writing {', '.join(missing[:3])}")
        write_json_atomic(marker, {"stage": stage.name, "title": stage.title, "seconds": round(seconds, 2),
                                   "outputs": [str(path) for path in stage.outputs()]})
        print(f"{prefix}: done in {seconds:.0f} s", file=stream, flush=True)
        records.append(StageRecord(stage.name, stage.title, seconds, True))
    return records
