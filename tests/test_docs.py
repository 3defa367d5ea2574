"""The documentation is self-contained, and what it points to exists.

Users get this repository (or the installed package) and nothing else. So no file they read may send them to
the developers' guidance files (METRICS.md, DATA.md, DESIGN.md, STYLE.md) or to a ``shared/`` folder outside
the repository; every relative link of the Markdown pages must lead to an existing file (and heading); and every
module that docs/architecture.md names must exist.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: What users receive and read: the package, the docs, the README, the benchmarks and the examples.
USER_FACING = ("strokeseg", "docs", "README.md", "benchmarks", "examples", "pyproject.toml", "Makefile")
#: Endings of the text files among them (binary files cannot refer the reader anywhere).
TEXT_SUFFIXES = frozenset({".py", ".md", ".yaml", ".yml", ".sh", ".txt", ".toml", ".json", ".cfg", ""})
#: Markdown pages whose links are checked.
PAGES = (*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md", ROOT / "benchmarks" / "README.md")
ARCHITECTURE = ROOT / "docs" / "architecture.md"

#: A reference to a file outside the repository: a guidance file by name, or a path through a ``shared/`` folder
#: (``../shared/...``, ``/work/shared/...``, ``shared/METRICS.md``).
OUTSIDE_REFERENCE = re.compile(r"\b(?:METRICS|DATA|DESIGN|STYLE)\.md\b|(?<![\w-])shared/", re.IGNORECASE)
FENCE = re.compile(r"^\s*(```|~~~)")
HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
#: ``[text](target)`` and ``![alt](target)``, with an optional title.
LINK = re.compile(r"\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
CODE_SPAN = re.compile(r"`([^`]+)`")
MODULE_PATH = re.compile(r"strokeseg/[\w./-]*")
MODULE_NAME = re.compile(r"strokeseg(?:\.\w+)+")


def user_facing_files() -> list[Path]:
    """Every text file of :data:`USER_FACING` (caches and hidden folders left out)."""
    files = []
    for name in USER_FACING:
        path = ROOT / name
        candidates = [path] if path.is_file() else sorted(path.rglob("*"))
        for candidate in candidates:
            relative = candidate.relative_to(ROOT).parts
            if (candidate.is_file() and candidate.suffix in TEXT_SUFFIXES and "__pycache__" not in relative
                    and not any(part.startswith(".") for part in relative)):
                files.append(candidate)
    return files


def outside_references(text: str) -> list[tuple[int, str]]:
    """(line number, line) of every line of ``text`` that refers to a file outside the repository."""
    return [(number, line.strip()) for number, line in enumerate(text.splitlines(), start=1)
            if OUTSIDE_REFERENCE.search(line)]


def prose_lines(text: str) -> list[str]:
    """The lines of a Markdown text outside fenced code blocks (others replaced by empty lines)."""
    lines, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
            lines.append("")
        else:
            lines.append("" if fenced else line)
    return lines


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: its text (links reduced to their text) in lower case, characters other
    than letters, digits, ``_``, ``-`` and spaces removed, spaces turned into hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """The heading anchors of a Markdown page (repeated headings get -1, -2, ... as on GitHub)."""
    found: set[str] = set()
    counts: dict[str, int] = {}
    for line in prose_lines(page.read_text(encoding="utf-8")):
        match = HEADING.match(line)
        if match:
            anchor = github_anchor(match.group(2))
            found.add(anchor if anchor not in counts else f"{anchor}-{counts[anchor]}")
            counts[anchor] = counts.get(anchor, 0) + 1
    return found


def broken_links(page: Path) -> list[str]:
    """Relative links of ``page`` whose file (or, for a Markdown file, heading) does not exist."""
    problems = []
    for number, line in enumerate(prose_lines(page.read_text(encoding="utf-8")), start=1):
        for target in LINK.findall(line):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):  # http:, https:, mailto:
                continue
            path_part, _, anchor = target.partition("#")
            destination = (page.parent / path_part).resolve() if path_part else page
            where = f"{_shown(page)}:{number}: {target}"
            if not destination.exists():
                problems.append(f"{where} (no such file)")
            elif anchor and destination.suffix == ".md" and anchor not in anchors(destination):
                problems.append(f"{where} (no such heading in {destination.name})")
    return problems


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def missing_modules(text: str) -> list[str]:
    """Module paths (``strokeseg/evaluation/``) and dotted names (``strokeseg.evaluation.dice``) written in code
    spans of ``text`` that do not exist in the repository."""
    missing = []
    for span in CODE_SPAN.findall("\n".join(prose_lines(text))):
        if MODULE_PATH.fullmatch(span):
            if not (ROOT / span).exists():
                missing.append(span)
        elif MODULE_NAME.fullmatch(span) and not _dotted_name_exists(span):
            missing.append(span)
    return missing


def _dotted_name_exists(name: str) -> bool:
    """A module ``a.b.c`` exists as a file or package, or ``a.b`` does and defines ``c`` (checked in its text)."""
    parts = name.split(".")
    for length in range(len(parts), 0, -1):
        base = ROOT.joinpath(*parts[:length])
        source = base / "__init__.py" if base.is_dir() else base.with_suffix(".py")
        if source.is_file():
            rest = parts[length:]
            return not rest or (len(rest) == 1 and re.search(rf"\b{re.escape(rest[0])}\b",
                                                             source.read_text(encoding="utf-8")) is not None)
    return False


# --------------------------------------------------------------------------------------------------
# The checkers themselves
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text", [
    "Definitions: ``shared/METRICS.md``.",
    "see [the metrics](../../shared/METRICS.md)",
    "layouts of DATA.md",
    "read /work/shared/data/isles22_sample",
    "as STYLE.md says",
    "per DESIGN.md",
    "metrics.md",
])
def test_outside_reference_pattern_finds_references(text: str) -> None:
    assert outside_references(text) == [(1, text)]


@pytest.mark.parametrize("text", [
    "SUMMARY_METRICS = ('dice',)",
    "docs/evaluation.md, Definitions",
    "the shared vocabulary (strokeseg/nnunet/)",
    "tests/data/isles22_sample",
    "two cores shared with other jobs",
])
def test_outside_reference_pattern_leaves_other_text(text: str) -> None:
    assert outside_references(text) == []


def test_github_anchor() -> None:
    assert github_anchor("Finding the trainers: `nnUNet_extTrainer`") == "finding-the-trainers-nnunet_exttrainer"
    assert github_anchor("Probability maps and the ensemble uncertainty index (Kim et al.)") == \
        "probability-maps-and-the-ensemble-uncertainty-index-kim-et-al"
    assert github_anchor("ATLAS R1.2 and R2.0") == "atlas-r12-and-r20"
    assert github_anchor("Zoom-in & out configurations") == "zoom-in--out-configurations"


def test_link_and_module_checkers_find_breakage(tmp_path: Path) -> None:
    page = ROOT / "docs" / "evaluation.md"
    assert "definitions" in anchors(page) and "strata" in anchors(page)
    assert missing_modules("`strokeseg/evaluation/` `strokeseg.evaluation.dice` `strokeseg/nnunet/runner.py`") == []
    assert missing_modules("`strokeseg/papers_missing/` `strokeseg.evaluation.no_such_name` `strokeseg.nowhere`") \
        == ["strokeseg/papers_missing/", "strokeseg.evaluation.no_such_name", "strokeseg.nowhere"]
    # good links, two broken ones, and one in a code block (not a link)
    (tmp_path / "other.md").write_text("# Other page\n\n## Same\n\n## Same\n", encoding="utf-8")
    page = tmp_path / "page.md"
    page.write_text("# Title\n\n[ok](other.md#same-1) [top](#title) [site](https://example.org/x.md)\n"
                    "[gone](missing.md) [no heading](other.md#nowhere)\n```\n[in code](missing_too.md)\n```\n",
                    encoding="utf-8")
    problems = broken_links(page)
    assert len(problems) == 2
    assert "missing.md (no such file)" in problems[0] and "other.md#nowhere (no such heading" in problems[1]


# --------------------------------------------------------------------------------------------------
# The repository
# --------------------------------------------------------------------------------------------------
def test_nothing_refers_to_files_outside_the_repository() -> None:
    files = user_facing_files()
    assert ROOT / "strokeseg" / "evaluation" / "overlap.py" in files and ROOT / "README.md" in files
    offenders = [f"{path.relative_to(ROOT)}:{number}: {line}" for path in files
                 for number, line in outside_references(path.read_text(encoding="utf-8"))]
    assert not offenders, ("these lines send the reader to files outside the repository; say it in docs/ "
                           "instead:\n" + "\n".join(offenders))


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_relative_links_resolve(page: Path) -> None:
    assert not broken_links(page)


def test_architecture_names_existing_modules() -> None:
    text = ARCHITECTURE.read_text(encoding="utf-8")
    assert len(MODULE_PATH.findall(text)) > 30  # the package map and the papers' table are checked
    assert not missing_modules(text)


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_pages_name_existing_modules(page: Path) -> None:
    assert not missing_modules(page.read_text(encoding="utf-8"))


def test_cited_doc_pages_exist() -> None:
    """Code and pages cite docs pages by path (``docs/evaluation.md, Definitions``): those pages exist."""
    cited = {(path, name) for path in user_facing_files()
             for name in re.findall(r"\bdocs/[\w.-]+\.md\b", path.read_text(encoding="utf-8"))}
    assert ("strokeseg/evaluation/overlap.py", "docs/evaluation.md") in {(_shown(p), n) for p, n in cited}
    missing = sorted(f"{_shown(path)}: {name}" for path, name in cited if not (ROOT / name).is_file())
    assert not missing
