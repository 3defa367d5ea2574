"""The order of the test files (tests/file_order.py): costliest first by the recorded seconds, and the record."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

from file_order import DURATIONS_FILE, costliest_files_first, read_durations

REPOSITORY = Path(__file__).parents[1]


def test_recorded_files_go_costliest_first_and_unrecorded_slow_files_before_them() -> None:
    keys = costliest_files_first(["a.py", "b.py", "c.py", "d.py"], slow_files={"d.py"},
                                 durations={"a.py": 3.0, "b.py": 40.0})
    assert sorted(keys, key=keys.__getitem__) == ["d.py", "b.py", "a.py", "c.py"]
    assert keys["d.py"] == -math.inf and keys["c.py"] == 0.0


def test_the_record_names_only_test_files_that_exist() -> None:
    durations = read_durations()
    assert durations, f"{DURATIONS_FILE} is missing: record it (see tests/file_order.py)"
    gone = [name for name in durations if not (REPOSITORY / name).is_file()]
    assert not gone, f"{DURATIONS_FILE.name} names test files that no longer exist: {gone}; re-record it " \
                     "(see tests/file_order.py)"
    assert all(seconds >= 0 for seconds in durations.values())


def test_a_recorded_run_orders_the_next_collection(tmp_path: Path) -> None:
    """End to end in a separate pytest: --record-file-durations writes each file's seconds, and the next
    collection puts the file that took longest first."""
    (tmp_path / "conftest.py").write_text(f"import sys\nsys.path.insert(0, {str(Path(__file__).parent)!r})\n"
                                          "pytest_plugins = ('file_order',)\n")
    (tmp_path / "test_a_quick.py").write_text("def test_quick():\n    pass\n")
    (tmp_path / "test_b_long.py").write_text("import time\n\ndef test_long():\n    time.sleep(0.3)\n\n"
                                             "def test_long_too():\n    time.sleep(0.2)\n")
    record = tmp_path / "durations.json"

    def pytest(*arguments: str) -> str:
        completed = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist",
                                    "--file-durations", str(record), *arguments], cwd=tmp_path,
                                   capture_output=True, text=True, check=False)
        assert completed.returncode == 0, completed.stdout + completed.stderr
        return completed.stdout

    assert pytest("--collect-only", "-q").index("test_a_quick.py") < pytest("--collect-only", "-q").index(
        "test_b_long.py")  # no record: the collection order
    pytest("-q", "--record-file-durations")
    seconds = json.loads(record.read_text())
    assert set(seconds) == {"test_a_quick.py", "test_b_long.py"}
    assert seconds["test_b_long.py"] >= 0.5 > seconds["test_a_quick.py"]
    listed = pytest("--collect-only", "-q")
    assert listed.index("test_b_long.py::test_long") < listed.index("test_b_long.py::test_long_too") \
        < listed.index("test_a_quick.py")
