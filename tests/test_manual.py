"""The manual stays true to the tools: every option a user can type is documented in
that tool's own section of MEMORY_ANALYSIS_README.md, and the contents links lead to
sections that exist."""

from __future__ import annotations

import re

import pytest
from conftest import ROOT

from memory_analysis.cli import load_tester, monitor, runner

MANUAL = (ROOT / "MEMORY_ANALYSIS_README.md").read_text(encoding="utf-8")


def section(heading: str, next_heading: str) -> str:
    return MANUAL[MANUAL.index(f"\n{heading}\n"):MANUAL.index(f"\n{next_heading}\n")]


@pytest.mark.parametrize("command, heading, next_heading", [
    (monitor.command, "## memory_monitor.py", "## load_tester.py"),
    (load_tester.command, "## load_tester.py", "## memory_analysis_runner.py"),
    (runner.command, "## memory_analysis_runner.py", "## Understanding the results"),
])
def test_every_option_of_a_tool_is_in_its_section(command, heading, next_heading):
    text = section(heading, next_heading)
    options = [opt for param in command.params for opt in param.opts if opt.startswith("--")]
    assert options
    assert [opt for opt in options if f"`{opt}" not in text] == []


def test_every_option_of_the_demo_service_is_documented():
    text = section("### The demo service", "## Exit codes")
    demo_options = re.findall(r'"(--[a-z-]+)"', (ROOT / "memory_analysis" / "demo"
                                                 / "__main__.py").read_text())
    assert demo_options
    assert [opt for opt in demo_options if f"`{opt}" not in text] == []


def test_contents_links_lead_to_sections():
    anchors = set()
    for heading in re.findall(r"^#+ (.+)$", MANUAL, flags=re.MULTILINE):
        anchors.add(re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-"))
    links = re.findall(r"\]\(#([\w-]+)\)", MANUAL)
    assert links
    assert [link for link in links if link not in anchors] == []
