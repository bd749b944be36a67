"""The README and docs/ as a user reads them (issue 17, item 3).

* the README stays short (at most 250 lines) and keeps the two set-up commands that `.ci/run` and
  a newcomer rely on (`make app`, `make test`);
* every relative link and image in README.md, docs/**/*.md and bench/RESULTS.md points at a file
  of the repository (and, for a Markdown target with an anchor, at one of its headings);
* no page links to the photos under ../shared/data (they are not ours to publish);
* the README links every page of docs/;
* every figure of the README's "What the results say" table is the figure of the results JSON
  its row cites (read from the README and looked up, never written here twice), and every number
  in that section's prose is one of the table's.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
MAX_README_LINES = 250
RESULTS_SECTION = "What the results say"
PROTOCOL_COLUMNS = {"fixed 0.15": "fixed", "calibrated": "calibrated", "AUC": "auc"}


def pages() -> list[Path]:
    return [README, *sorted((ROOT / "docs").rglob("*.md")), ROOT / "bench" / "RESULTS.md"]


def prose(text: str) -> str:
    """The text without fenced code blocks and inline code, where brackets are not links."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    return re.sub(r"`[^`\n]*`", "", text)


def links(text: str) -> list[str]:
    """Targets of Markdown links and images, and of HTML src/href attributes."""
    body = prose(text)
    found = re.findall(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)", body)
    found += re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", body)
    return found


def slugs(md: Path) -> set[str]:
    """GitHub's anchors for the headings of a Markdown file."""
    seen: dict[str, int] = {}
    out = set()
    for line in re.sub(r"^```.*?^```", "", md.read_text(encoding="utf-8"), flags=re.S | re.M).splitlines():
        m = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not m:
            continue
        title = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", m.group(1)).replace("`", "")
        slug = re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else f"{slug}-{n}")
    return out


def section(text: str, title: str) -> str:
    m = re.search(rf"^## {re.escape(title)}\s*$(.*?)(?=^## |\Z)", text, flags=re.S | re.M)
    assert m, f"README.md has no section '## {title}'"
    return m.group(1)


def table_rows(block: str) -> tuple[list[str], list[list[str]]]:
    """The header and body rows of the first Markdown table in ``block``."""
    lines = [ln for ln in block.splitlines() if ln.startswith("|")]
    assert len(lines) >= 3, "no table"
    split = lambda ln: [c.strip() for c in ln.strip().strip("|").split("|")]
    return split(lines[0]), [split(ln) for ln in lines[2:]]


# ---------------------------------------------------------------------------------------- README


def test_readme_is_short() -> None:
    n = len(README.read_text(encoding="utf-8").splitlines())
    assert n <= MAX_README_LINES, f"README.md has {n} lines (at most {MAX_README_LINES}): move details to docs/"


def test_readme_keeps_the_two_set_up_commands() -> None:
    text = README.read_text(encoding="utf-8")
    blocks = re.findall(r"^```(?:bash|sh)?\n(.*?)^```", section(text, "Set-up (fresh machine)"), flags=re.S | re.M)
    commands = [ln.split("#")[0].strip() for b in blocks for ln in b.splitlines()]
    assert "make app" in commands and "make test" in commands, commands


def test_readme_links_every_docs_page() -> None:
    linked = {(README.parent / t.split("#")[0]).resolve() for t in links(README.read_text(encoding="utf-8"))}
    missing = [p.relative_to(ROOT).as_posix() for p in sorted((ROOT / "docs").glob("*.md")) if p.resolve() not in linked]
    assert not missing, f"README.md does not link {missing}"


# ----------------------------------------------------------------------------------------- links


@pytest.mark.parametrize("page", pages(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_relative_links_resolve(page: Path) -> None:
    bad = []
    for target in links(page.read_text(encoding="utf-8")):
        if re.match(r"[a-z][a-z0-9+.-]*:", target, flags=re.I):  # http:, https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page.resolve()
        if not dest.is_relative_to(ROOT) or not dest.exists():
            bad.append(f"{target}: no such file in the repository")
        elif anchor and dest.suffix == ".md" and anchor not in slugs(dest):
            bad.append(f"{target}: {dest.name} has no heading with that anchor")
    assert not bad, f"{page.relative_to(ROOT)}: " + "; ".join(bad)


@pytest.mark.parametrize("page", pages(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_no_page_links_to_the_shared_photos(page: Path) -> None:
    bad = [t for t in links(page.read_text(encoding="utf-8")) if "shared/data" in t]
    assert not bad, f"{page.relative_to(ROOT)} links into ../shared/data: {bad}"


# ------------------------------------------------------------------------------ results in short


def test_results_in_short_are_the_cited_outputs() -> None:
    block = section(README.read_text(encoding="utf-8"), RESULTS_SECTION)
    header, rows = table_rows(block)
    columns = {i: PROTOCOL_COLUMNS[h] for i, h in enumerate(header) if h in PROTOCOL_COLUMNS}
    assert sorted(columns.values()) == ["auc", "calibrated", "fixed"], header
    data, checked, wrong = None, 0, []
    for row in rows:
        if row[0]:  # a new block: the results JSON it cites, and what it says it holds
            (source,) = [t for t in links(row[0]) if t.endswith(".json")]
            data = json.loads((README.parent / source).read_text(encoding="utf-8"))
            first, last = map(int, re.search(r"seeds (\d+)-(\d+)", row[0]).groups())
            assert data["seeds"] == list(range(first, last + 1)), (source, data["seeds"])
            assert data["config"]["backbone"] in row[0].lower().replace("-", "_").replace("`", ""), source
            assert f"{data['config']['image_size']} px" in row[0], source
        assert data is not None, "the table's first row names no source"
        name = re.sub(r"\s*\([^)]*\)", "", row[1])
        diff = name.endswith(" minus Baseline")
        mode = name.removesuffix(" minus Baseline")
        for i, protocol in columns.items():
            m = re.fullmatch(r"([+-]?\d+\.\d+) ± (\d+\.\d+)", row[i])
            assert m, f"{mode}, {protocol}: cannot read {row[i]!r}"
            entry = (data["vs_baseline"] if diff else data["protocols"])[protocol][mode]
            if (float(m.group(1)), float(m.group(2))) != (entry["mean"], entry["sd"]):
                wrong.append(f"{row[1]} {protocol}: README {row[i]}, {source} {entry['mean']} ± {entry['sd']}")
            checked += 1
    assert not wrong, wrong
    assert checked >= 12, checked


def test_results_in_short_prose_agrees_with_its_table() -> None:
    block = section(README.read_text(encoding="utf-8"), RESULTS_SECTION)
    number = r"[+-]?\d+\.\d+"
    table = "\n".join(ln for ln in block.splitlines() if ln.startswith("|"))
    text = prose("\n".join(ln for ln in block.splitlines() if not ln.startswith("|")))
    allowed = {abs(float(x)) for x in re.findall(number, table)}
    stray = [x for x in re.findall(number, text) if abs(float(x)) not in allowed]
    assert not stray, f"figures in the prose that are not in the table: {stray}"
