"""The order in which ``make test`` hands test files to its two pytest workers: the costliest first.

``--dist loadfile`` gives each worker whole files, in the order of the collection, as it frees up. Started
first, the long files (the smoke demo, the end-to-end studies) run side by side while the other worker takes
shorter ones, and the run ends on short files, so neither worker waits long for the other at the end.

Each file's cost is its seconds in the last recorded run (``tests/file_durations.json``: setup + call +
teardown of its tests, as two workers measured them). Re-record after adding or changing long tests::

    .venv/bin/python -m pytest -n 2 --dist loadfile --no-loadscope-reorder --record-file-durations

A file not in the record goes first when it has a ``slow`` test (assumed long until measured), else last. A
stale record only changes the order, never which tests run; ``test_file_order.py`` checks that every file it
names still exists.
"""

from __future__ import annotations

import json
import math
import os
from collections import defaultdict
from pathlib import Path

import pytest

#: Seconds per test file (path relative to the repository root) of the last recorded run.
DURATIONS_FILE = Path(__file__).with_name("file_durations.json")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--file-durations", type=Path, default=DURATIONS_FILE,
                     help="seconds per test file that order the files (default: tests/file_durations.json)")
    parser.addoption("--record-file-durations", action="store_true",
                     help="write each test file's seconds of this run to --file-durations (run the whole suite)")


def read_durations(path: Path = DURATIONS_FILE) -> dict[str, float]:
    """The recorded seconds per test file; empty when there is no record."""
    return json.loads(path.read_text()) if path.is_file() else {}


def test_file(node_id: str) -> str:
    """The file part of a pytest node id (``tests/a/test_b.py::test_c[x]`` -> ``tests/a/test_b.py``)."""
    return node_id.split("::", 1)[0]


def costliest_files_first(files_in_order: list[str], slow_files: set[str],
                          durations: dict[str, float]) -> dict[str, float]:
    """Each file's sort key (smaller runs earlier): minus its recorded seconds; an unrecorded file with a slow test
    first (-inf), any other unrecorded one last (0). Equal keys keep the collection order (a stable sort)."""
    return {file: -durations.get(file, math.inf if file in slow_files else 0.0) for file in files_in_order}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Sort the items file by file, costliest file first; a file's own tests keep their order."""
    files = list(dict.fromkeys(test_file(item.nodeid) for item in items))
    slow = {test_file(item.nodeid) for item in items if item.get_closest_marker("slow") is not None}
    keys = costliest_files_first(files, slow, read_durations(config.getoption("--file-durations")))
    items.sort(key=lambda item: keys[test_file(item.nodeid)])


class _DurationRecorder:
    """Adds up each file's test phases as the reports arrive (on the xdist controller: every worker's reports)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.seconds: defaultdict[str, float] = defaultdict(float)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.seconds[test_file(report.nodeid)] += report.duration

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        record = {file: round(seconds, 1) for file, seconds in sorted(self.seconds.items())}
        partial = self.path.with_name(self.path.name + ".partial")
        partial.write_text(json.dumps(record, indent=1) + "\n")
        os.replace(partial, self.path)


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    """Record the durations where ``--record-file-durations`` is given, in the process that sees every report."""
    if config.getoption("--record-file-durations") and not hasattr(config, "workerinput"):
        config.pluginmanager.register(_DurationRecorder(config.getoption("--file-durations")),
                                      "strokeseg-file-durations")
