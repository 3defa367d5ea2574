"""The fidelity-table reader and checker on a small table written here."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from strokeseg.errors import ConfigurationError
from strokeseg.papers import get_preset
from strokeseg.papers.fidelity import check_rows, read_fidelity_table, resolve, values_match

HEADER = ("| Detail | Paper (section) | Preset value | Checked attribute | Code | Status |\n"
          "|---|---|---|---|---|---|\n")


def write_table(tmp_path: Path, rows: str) -> Path:
    path = tmp_path / "paper.md"
    path.write_text(f"# A paper\n\nSome text.\n\n{HEADER}{rows}\nAfter the table.\n", encoding="utf-8")
    return path


def test_rows_are_read_and_checked_against_the_context(tmp_path: Path) -> None:
    path = write_table(tmp_path, (
        "| Learning rate | 1e-5 (Methods) | `1e-5` | `trainer.initial_lr` | `x.py` | exact |\n"
        "| Patch | 224×224 (Methods) | `[224, 224]` | `plans.configurations.2d.patch_size` | `y.py` | exact |\n"
        "| Test cases | 10 % (Methods) | `3` | `len(split.test)` | `z.py` | adapted: counts round down |\n"
        "| Optimizer | Adam (Methods) | `'adam'` | `trainer.optimizer_name` | `x.py` | exact |\n"))
    rows = read_fidelity_table(path)
    assert [row.detail for row in rows] == ["Learning rate", "Patch", "Test cases", "Optimizer"]
    assert [row.exact for row in rows] == [True, True, False, True]
    context = {"trainer": SimpleNamespace(initial_lr=1e-5, optimizer_name="adam"),
               "plans": {"configurations": {"2d": {"patch_size": (224, 224)}}},
               "split": SimpleNamespace(test=["a", "b", "c"])}
    assert check_rows(rows, context) == []
    context["trainer"] = SimpleNamespace(initial_lr=1e-2, optimizer_name="sgd")
    problems = check_rows(rows, context)
    assert len(problems) == 2
    assert "trainer.initial_lr is 0.01, the table says 1e-05" in problems[0]


def test_missing_attribute_is_a_problem_not_a_pass(tmp_path: Path) -> None:
    rows = read_fidelity_table(write_table(tmp_path, "| Epochs | 100 | `100` | `trainer.num_epochs` | x | exact |\n"))
    problems = check_rows(rows, {"trainer": SimpleNamespace()})
    assert problems and "'num_epochs' not found" in problems[0]


@pytest.mark.parametrize(("rows", "message"), [
    ("| Epochs | 100 | `100` | `trainer.num_epochs` | x | adapted |\n", "must be 'exact' or 'adapted: <why>'"),
    ("| Epochs | 100 | `100` | `trainer.num_epochs` | x | close enough |\n", "must be 'exact'"),
    ("| Epochs | 100 | `100` | x | exact |\n", "expected 6 cells"),
    ("| Epochs |  | `100` | `trainer.num_epochs` | x | exact |\n", "empty cell(s) Paper (section)"),
])
def test_malformed_rows_are_refused(tmp_path: Path, rows: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_fidelity_table(write_table(tmp_path, rows))


def test_a_file_without_a_fidelity_table_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "none.md"
    path.write_text("| a | b |\n|---|---|\n| 1 | 2 |\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="no fidelity table"):
        read_fidelity_table(path)


def test_value_comparison() -> None:
    assert values_match(0.30000000000000004, 0.3)
    assert not values_match(0.3001, 0.3)
    assert values_match((1, 2), [1, 2]) and not values_match([1, 2, 3], [1, 2])
    assert values_match(True, True)
    assert not values_match(1, True)  # a flag must be a flag
    assert not values_match(False, 0)
    assert not values_match("adam", "sgd")
    assert resolve({"a": [{"b": 4}]}, "a.0.b") == 4


def test_unknown_preset_names_the_known_ones() -> None:
    with pytest.raises(ConfigurationError, match="no paper preset 'nope'"):
        get_preset("nope")
