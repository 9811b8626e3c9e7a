"""The HTML report in a real headless browser (Debian's chromium, which .ci/run
installs): it loads with no console error and no network request, both charts are drawn
and not blank, and a scenario's endpoint named ``<script>`` is shown as text."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
from pathlib import Path

import aiohttp
import pytest
from common_runs import SCRIPT_NAME

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = pytest.mark.skipif(CHROMIUM is None and os.environ.get("CI") != "true",
                                reason="needs chromium (.ci/run installs it)")


class Page:
    """One browser tab driven over the DevTools protocol."""

    def __init__(self, socket: aiohttp.ClientWebSocketResponse) -> None:
        self.socket = socket
        self.next_id = 0
        self.events: list[dict] = []

    async def call(self, method: str, **params) -> dict:
        self.next_id += 1
        ask = self.next_id
        await self.socket.send_json({"id": ask, "method": method, "params": params})
        while True:
            message = await self.socket.receive_json(timeout=30)
            if message.get("id") == ask:
                return message.get("result", {})
            self.events.append(message)

    async def until(self, event: str) -> None:
        if any(e.get("method") == event for e in self.events):
            return
        while True:
            message = await self.socket.receive_json(timeout=30)
            self.events.append(message)
            if message.get("method") == event:
                return


async def _inspect(port: int, page_path: Path) -> tuple[Page, dict]:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{port}/json/list") as answer:
            targets = await answer.json()
        target = next(t for t in targets if t.get("type") == "page")
        async with session.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=0) as ws:
            page = Page(ws)
            for domain in ("Page", "Runtime", "Log", "Network"):
                await page.call(f"{domain}.enable")
            await page.call("Page.navigate", url=page_path.as_uri())
            await page.until("Page.loadEventFired")
            found = await page.call("Runtime.evaluate", returnByValue=True, expression="""
                ({svgs: [...document.querySelectorAll('svg')].map(s => ({
                    width: s.getBoundingClientRect().width,
                    paths: s.querySelectorAll('path').length})),
                  text: document.body.innerText,
                  scripts: document.querySelectorAll('script').length})""")
            return page, found["result"]["value"]


def test_the_report_in_a_real_browser(script_scenario_run, tmp_path):
    assert CHROMIUM is not None, "chromium is missing: .ci/run installs it"
    out = script_scenario_run.ok().out
    browser = subprocess.Popen(
        [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--remote-debugging-port=0", f"--user-data-dir={tmp_path / 'profile'}",
         "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert browser.stderr is not None
        port = None
        for line in browser.stderr:  # the browser says where it listens once it does
            found = re.search(r"DevTools listening on ws://127\.0\.0\.1:(\d+)/", line)
            if found:
                port = int(found.group(1))
                break
        assert port is not None, "chromium did not start its DevTools endpoint"
        page, seen = asyncio.run(_inspect(port, out / "memory_analysis_report.html"))
    finally:
        browser.terminate()
        browser.wait(timeout=30)
    errors = [e for e in page.events
              if e.get("method") == "Runtime.exceptionThrown"
              or (e.get("method") == "Runtime.consoleAPICalled"
                  and e["params"].get("type") == "error")
              or (e.get("method") == "Log.entryAdded"
                  and e["params"]["entry"].get("level") == "error")]
    assert errors == []
    fetched = [e["params"]["request"]["url"] for e in page.events
               if e.get("method") == "Network.requestWillBeSent"
               and not e["params"]["request"]["url"].startswith(("file:", "data:"))]
    assert fetched == []
    assert seen["scripts"] == 0
    assert len(seen["svgs"]) == 2
    for chart in seen["svgs"]:
        assert chart["width"] > 300 and chart["paths"] > 10, chart
    assert SCRIPT_NAME in seen["text"]  # shown as text, never run
