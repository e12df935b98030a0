"""Regenerate the README's screenshots: the real app in headless Chromium, on KarateClub.

    PYTHONPATH=. python scripts/screenshots.py [--out assets/screenshots] [--width 1200] [--full]

Starts `streamlit run app.py` on a free loopback port (runs and caches in a temporary
folder), trains ARGVA on the Train page, then photographs Home, Train, Latent space,
Compare (GAE vs ARGVA) and Runs as <out>/<page>.png: the first screen of each page
(--full: the whole page), at device scale 1, as Chromium compresses them (about 10-120 KiB
each at 1200 x 800: flat colours compress well).
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from tests.browser.harness import (REPO_DIR, AppServer, browser_unavailable, chart_traces, expect,
                                   full_page_screenshot, launch_chromium, open_train, sidebar_link,
                                   start_button, wait_app_idle, wait_charts_drawn, wait_until)

TRAIN_WAIT_MS = 180_000


def shoot(page, path: Path, full: bool) -> None:
    if full:
        full_page_screenshot(page, path)
    else:
        wait_app_idle(page)
        wait_charts_drawn(page)
        page.screenshot(path=str(path))


def visit(page, link: str, heading: str) -> None:
    sidebar_link(page, link).click()
    expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
    wait_app_idle(page)


def take_all(page, url: str, out: Path, full: bool) -> list[Path]:
    shots = []

    def save(name: str) -> None:
        shots.append(out / f"{name}.png")
        shoot(page, shots[-1], full)

    page.goto(url)
    expect(page.get_by_role("heading", name="ARGAE Lab", exact=True)).to_be_visible()
    save("home")

    open_train(page, url, "epochs=150")
    start_button(page).click()
    expect(page.get_by_role("heading", name="Test metrics")).to_be_visible(timeout=TRAIN_WAIT_MS)
    save("train")

    visit(page, "Latent space", "Latent space")
    wait_until(lambda: any(t["points"] for t in chart_traces(page, "latent_scatter")), 180,
               what="the latent scatter")
    save("latent")

    visit(page, "Compare", "Compare")
    epochs = page.locator(".st-key-cmp_epochs input")
    epochs.fill("150")
    epochs.press("Enter")
    wait_app_idle(page)
    page.get_by_role("button", name="Compare", exact=True).click()
    expect(page.get_by_role("heading", name="Test metrics")).to_be_visible(timeout=TRAIN_WAIT_MS)
    save("compare")

    visit(page, "Runs", "Runs")
    save("runs")
    return shots


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=REPO_DIR / "assets" / "screenshots")
    parser.add_argument("--width", type=int, default=1200, help="window width in pixels [1200]")
    parser.add_argument("--height", type=int, default=800, help="window height in pixels [800]")
    parser.add_argument("--full", action="store_true", help="whole pages, not only their first screen")
    args = parser.parse_args()
    if reason := browser_unavailable():
        raise SystemExit(f"cannot take screenshots: {reason}")
    args.out.mkdir(parents=True, exist_ok=True)

    from playwright.sync_api import expect as playwright_expect, sync_playwright
    playwright_expect.set_options(timeout=120_000)   # first page loads take a while on 2 busy cores
    base = Path(tempfile.mkdtemp(prefix="argae-screenshots-"))
    try:
        with AppServer(base / "runs", base / "cache", log_dir=base) as server, sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            page = browser.new_page(viewport={"width": args.width, "height": args.height})
            page.set_default_timeout(120_000)
            shots = take_all(page, server.url, args.out, args.full)
            browser.close()
    finally:
        shutil.rmtree(base, ignore_errors=True)
    for path in shots:
        print(f"{path.relative_to(REPO_DIR) if path.is_relative_to(REPO_DIR) else path}: "
              f"{path.stat().st_size / 1024:.0f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
