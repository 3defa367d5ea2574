"""Fidelity tables: what a paper states, what its preset runs, and a check that the two never drift apart.

A fidelity table is the first Markdown table in ``docs/papers/<key>.md`` whose header is exactly::

    | Detail | Paper (section) | Preset value | Checked attribute | Code | Status |

* ``Preset value``: a Python literal (``1e-5``, ``[224, 224]``, ``'adam'``, ``True``) the attribute must equal;
  numbers compare with a relative tolerance of 1e-9, lists and tuples element by element.
* ``Checked attribute``: a dotted path into the check context, a mapping the test builds from the instantiated
  classes (``trainer``, ``plans``, ``planner``, ``split``, ``preset`` ...): ``trainer.initial_lr``,
  ``plans.configurations.3d_fullres.patch_size``, ``split.folds.0.train`` or ``len(split.test)``. Path parts are
  attributes or mapping keys; a part made of digits indexes a sequence; ``len(...)`` around the path takes the
  length.
* ``Status``: ``exact``, or ``adapted: <why>`` (the reason is required).
Values inside cells are written in backticks or plain; backticks are stripped.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from strokeseg.errors import ConfigurationError

#: The header every fidelity table has, in this order.
COLUMNS: tuple[str, ...] = ("Detail", "Paper (section)", "Preset value", "Checked attribute", "Code", "Status")
EXACT = "exact"
ADAPTED = "adapted"
_LENGTH = re.compile(r"^len\((.+)\)$")


@dataclass(frozen=True)
class FidelityRow:
    """One stated method detail of a paper and how the preset reproduces it."""

    detail: str
    paper: str
    preset_value: str
    attribute: str
    code: str
    status: str
    line: int

    @property
    def exact(self) -> bool:
        """Whether the preset reproduces the detail exactly."""
        return self.status == EXACT

    @property
    def expected(self) -> Any:
        """The preset value as a Python object (the text itself when it is no literal)."""
        try:
            return ast.literal_eval(self.preset_value)
        except (ValueError, SyntaxError):
            return self.preset_value


def _cells(line: str) -> list[str]:
    return [cell.strip().strip("`").strip() for cell in line.strip().strip("|").split("|")]


def read_fidelity_table(path: Path) -> list[FidelityRow]:
    """The rows of the fidelity table in ``path``.

    Raises:
        ConfigurationError: the file has no fidelity table, a row has the wrong number of cells, a status is
            neither ``exact`` nor ``adapted: <why>``, or a cell other than Code is empty.
    """
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("|") and tuple(_cells(line)) == COLUMNS), None)
    if start is None:
        raise ConfigurationError(f"{path} has no fidelity table with the columns {' | '.join(COLUMNS)}")
    rows = []
    for number, line in enumerate(lines[start + 2:], start=start + 3):
        if not line.startswith("|"):
            break
        cells = _cells(line)
        if len(cells) != len(COLUMNS):
            raise ConfigurationError(f"{path}:{number}: expected {len(COLUMNS)} cells, found {len(cells)}")
        row = FidelityRow(cells[0], cells[1], cells[2], cells[3], cells[4], cells[5], line=number)
        empty = [name for name, cell in zip(COLUMNS, cells, strict=True) if not cell]
        if empty:
            raise ConfigurationError(f"{path}:{number}: empty cell(s) {', '.join(empty)} in row {row.detail!r}")
        if not (row.exact or (row.status.startswith(f"{ADAPTED}:") and row.status[len(ADAPTED) + 1:].strip())):
            raise ConfigurationError(f"{path}:{number}: status {row.status!r} must be 'exact' or 'adapted: <why>'")
        rows.append(row)
    if not rows:
        raise ConfigurationError(f"{path}: the fidelity table has no rows")
    return rows


def resolve(context: Mapping[str, Any], attribute: str) -> Any:
    """The value at dotted path ``attribute`` in ``context`` (see the module docstring).

    Raises:
        KeyError: a part of the path does not exist (the message names the part).
    """
    length = _LENGTH.match(attribute)
    path = length.group(1) if length else attribute
    value: Any = context
    for part in path.split("."):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif part.isdigit() and isinstance(value, Sequence) and not isinstance(value, str):
            value = value[int(part)]
        elif hasattr(value, part):
            value = getattr(value, part)
        else:
            raise KeyError(f"{attribute}: {part!r} not found in {type(value).__name__}")
    return len(value) if length else value


def values_match(actual: Any, expected: Any) -> bool:
    """Equality with a relative tolerance for numbers and element-wise comparison of sequences."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        return isinstance(expected, bool) and isinstance(actual, bool) and actual == expected
    if isinstance(expected, int | float) and isinstance(actual, int | float):
        return math.isclose(float(actual), float(expected), rel_tol=1e-9, abs_tol=0.0)
    if isinstance(expected, list | tuple) and isinstance(actual, Sequence) and not isinstance(actual, str):
        return len(actual) == len(expected) and all(values_match(a, e) for a, e in zip(actual, expected, strict=True))
    if hasattr(actual, "tolist"):  # numpy arrays and scalars
        return values_match(actual.tolist(), expected)
    return bool(actual == expected)


def check_rows(rows: Sequence[FidelityRow], context: Mapping[str, Any]) -> list[str]:
    """One message per row whose checked attribute does not hold its preset value (empty: all hold)."""
    problems = []
    for row in rows:
        try:
            actual = resolve(context, row.attribute)
        except (KeyError, IndexError, TypeError) as error:
            problems.append(f"line {row.line} ({row.detail}): {error}")
            continue
        if not values_match(actual, row.expected):
            problems.append(f"line {row.line} ({row.detail}): {row.attribute} is {actual!r}, the table says "
                            f"{row.expected!r}")
    return problems
