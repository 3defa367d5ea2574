"""The command line of the benchmarks that reuse a finished demo folder (``bench_demo.py --keep DIR``)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from strokeseg.experiments.recipes.demo.layout import DemoStudy
from strokeseg.experiments.recipes.demo.profiles import get_profile


def demo_parser(description: str, workers_help: str) -> argparse.ArgumentParser:
    """``--demo DIR``, ``--workers N`` (default 2) and ``--repeats N`` (default 2; best of each setting is kept)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--demo", type=Path, required=True, help="a finished demo folder (bench_demo.py --keep)")
    parser.add_argument("--workers", type=int, default=2, help=workers_help)
    parser.add_argument("--repeats", type=int, default=2, help="rounds of both settings (best of each is kept)")
    return parser


def finished_demo(folder: Path) -> DemoStudy:
    """The demo study in ``folder``, with the profile it ran; exits with a message when it is no demo folder."""
    marker = folder / ".strokeseg_demo.json"
    if not marker.is_file():
        raise SystemExit(f"{folder} is not a demo folder ({marker.name} is missing): run bench_demo.py --keep")
    return DemoStudy(folder.resolve(), get_profile(json.loads(marker.read_text())["settings"]["profile"]["name"]))
