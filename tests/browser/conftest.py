"""Fixtures for the real-browser tests: one `streamlit run app.py` server per test session
(runs and caches in a temporary folder), headless Chromium, a fresh browser context (a new
Streamlit session) per test, screenshots in test-artifacts/screenshots/, and measured
timings printed at the end of the run.

Every test here is marked `browser`. Without Chromium or Playwright the tests skip with
the reason, except under CI (env CI set), where that is a broken setup and they fail.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from .harness import (REPO_DIR, AppServer, browser_unavailable, full_page_screenshot, launch_chromium,
                      wait_app_idle)

SCREENSHOTS = REPO_DIR / "test-artifacts" / "screenshots"
VIEWPORT = {"width": 1400, "height": 1000}
TIMINGS: dict[str, str] = {}   # what the tests measured, printed in the terminal summary


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item, so fixtures can tell a failed test."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


def pytest_terminal_summary(terminalreporter):
    if TIMINGS:
        terminalreporter.section("browser timings")
        for name, value in TIMINGS.items():
            terminalreporter.write_line(f"{name}: {value}")


@pytest.fixture(scope="session")
def playwright_browser():
    """Headless Debian Chromium, shared by the session's tests."""
    reason = browser_unavailable()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"browser tests cannot run: {reason} (CI is set, so this is an error)")
        pytest.skip(f"browser tests skipped: {reason}")
    from playwright.sync_api import expect, sync_playwright
    expect.set_options(timeout=60_000)  # a loaded 2-core machine: pages take seconds to settle
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def app_dirs(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("argae-browser")
    return {"runs_dir": base / "runs", "cache_dir": base / "cache", "log_dir": base}


@pytest.fixture(scope="session")
def server(playwright_browser, app_dirs):
    """The app on a free loopback port; stopped (with its workers) even when tests fail,
    and its port checked free afterwards."""
    app = AppServer(**app_dirs)
    try:
        app.start()
        yield app
    finally:
        app.stop()
    assert not app.group_processes(), f"server processes left running: {app.group_processes()}"
    assert app.wait_port_free(), f"port {app.port} still taken after the server stopped"


@pytest.fixture(scope="session")
def app_url(server, playwright_browser) -> str:
    """The server's URL, after one visit to the home page: the first script run builds the
    job manager, whose workers then import torch while the tests start."""
    context = playwright_browser.new_context(viewport=VIEWPORT)
    try:
        page = context.new_page()
        page.goto(server.url)
        wait_app_idle(page, timeout=120)
    finally:
        context.close()
    return server.url


@pytest.fixture
def new_session(playwright_browser, request):
    """Open fresh browser contexts (each one a separate Streamlit session); closed after,
    with a screenshot of every page still open when the test failed."""
    contexts = []

    def open_page():
        context = playwright_browser.new_context(viewport=VIEWPORT)
        context.set_default_timeout(90_000)
        contexts.append(context)
        return context.new_page()

    yield open_page
    report = getattr(request.node, "report_call", None)
    for number, context in enumerate(contexts):
        if report is not None and report.failed:
            for page in context.pages:
                SCREENSHOTS.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(SCREENSHOTS / f"FAILED-{request.node.name}-{number}.png"))
        context.close()


@pytest.fixture
def page(new_session):
    return new_session()


@pytest.fixture
def screenshot():
    """Save a full-page screenshot as test-artifacts/screenshots/<name>.png (git-ignored)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def save(page, name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        full_page_screenshot(page, path)
        return path
    return save
