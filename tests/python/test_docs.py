"""The README and docs/ point only inside the repository, at files that exist."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from costline import _native

REPO = Path(__file__).resolve().parents[2]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_link_points_at_a_file_in_the_repository(doc):
    text = doc.read_text(encoding="utf-8")
    assert "../" not in text, f"{doc.name} points outside the repository"
    for target in re.findall(r"\]\(([^)#\s]+)", text):
        if re.match(r"[a-z]+://", target):
            continue
        path = (doc.parent / target).resolve()
        assert path.is_relative_to(REPO) and path.exists(), f"{doc.name}: broken link {target}"


def test_the_docs_exist_and_readme_links_them():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "(docs/architecture.md)" in readme and "(docs/events.md)" in readme


def test_events_md_documents_every_field_the_core_emits():
    event = json.loads(
        _native.preview_event("openai", "chat", "gpt-4o", None, [{"prompt_tokens": 3, "completion_tokens": 2}])
    )
    documented = set(re.findall(r"^\| `(\w+)` \|", (REPO / "docs" / "events.md").read_text(), re.MULTILINE))
    assert set(event) <= documented, f"not in docs/events.md: {sorted(set(event) - documented)}"
