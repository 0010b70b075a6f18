"""The README is a landing page whose links hold; docs/ is the reference, built by `make lint` with
`mkdocs build --strict` (which checks every link and anchor inside docs/)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def test_the_readme_is_a_landing_page():
    assert len((ROOT / "README.md").read_text(encoding="utf-8").splitlines()) <= 300


def test_every_relative_link_in_the_readme_resolves():
    links = LINK.findall((ROOT / "README.md").read_text(encoding="utf-8"))
    relative = [link.split("#")[0] for link in links if not re.match(r"[a-z]+:", link)]
    assert relative, "the README links no page of docs/"
    missing = [link for link in relative if not (ROOT / link).exists()]
    assert not missing, missing


def test_every_docs_page_is_in_the_site_navigation():
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    in_nav = {page for item in config["nav"] for page in item.values()}
    assert in_nav == {p.name for p in (ROOT / "docs").glob("*.md")}
