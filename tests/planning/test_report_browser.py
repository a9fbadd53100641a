"""The HTML report in a real headless Chromium: it loads from disk with no network, throws no
errors, shows the expected headings, and every plot is a decoded, non-blank image."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest
from playwright.sync_api import sync_playwright

from snugfit.simulations.planning.plan import PlanResult
from snugfit.simulations.planning.report import write_report

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
HEADINGS = [
    "Chosen cluster per policy",
    "Unallocated GPU against load",
    "Cluster size against the target",
    "GPU fragmentation by node type",
    "Utilisation by node type",
    "Node types considered",
]


def test_report_renders_in_headless_chromium(small_plan: PlanResult, tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: `make browser` installs it")
    paths = write_report(small_plan, tmp_path / "report")
    errors: list[str] = []
    requests: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: requests.append(r.url))
        page.goto(paths["html"].as_uri())
        page.wait_for_load_state("load")
        title = page.locator("h1").inner_text()
        headings = page.locator("h2").all_inner_texts()
        first_screen = page.locator(".headline").inner_text()
        images = page.evaluate(
            "Array.from(document.images).map(i => [i.alt, i.complete, i.naturalWidth,"
            " i.naturalHeight])"
        )
        shot = page.screenshot(full_page=True)
        browser.close()
    assert errors == []
    assert all(u.startswith(("file:", "data:")) for u in requests), requests
    assert title == "Capacity plan: 2 % of default"
    assert headings == HEADINGS
    assert "snugfit needs" in first_screen and "per month" in first_screen
    assert len(images) == 4
    for alt, complete, width, height in images:
        assert complete and width > 200 and height > 100, alt
    pixels = matplotlib.image.imread(io.BytesIO(shot), format="png")
    assert pixels.shape[0] > 900 and float(np.std(pixels)) > 0.05  # a long page, not blank
    (tmp_path / "report" / "screenshot.png").write_bytes(shot)
