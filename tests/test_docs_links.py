"""Every relative link in the README and the docs points at a file or folder of the repository."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PAGES = sorted([REPO / "README.md", *(REPO / "docs").rglob("*.md")])
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^\s*```")


def relative_links(page: Path) -> list[str]:
    """Targets of ``[text](target)`` links outside code fences, without web or mail addresses."""
    links, in_code = [], False
    for line in page.read_text(encoding="utf-8").splitlines():
        if FENCE.match(line):
            in_code = not in_code
            continue
        if not in_code:
            links += [
                target for target in LINK.findall(line) if not re.match(r"^(https?:|mailto:|#)", target)
            ]
    return links


def test_the_link_finder_sees_links_outside_code_only(tmp_path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "[a](x.md) ![b](img/y.png) [web](https://example.org)\n```\n[c](in_code.md)\n```\n[d](z.md#part)\n"
    )
    assert relative_links(page) == ["x.md", "img/y.png", "z.md#part"]


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(REPO)))
def test_relative_links_point_at_existing_files(page: Path) -> None:
    broken = [
        target for target in relative_links(page) if not (page.parent / target.split("#", 1)[0]).exists()
    ]
    assert broken == [], f"{page.relative_to(REPO)} links to missing files: {broken}"
