"""An axe-core audit of every page in Chromium, each with something on it (after a short
KarateClub run: its charts on Train, its latent picture, its row in Runs, and the run opened
read-only in Train): no violation of axe's default rules (WCAG 2 A / AA and best practice).
A class includes students with screen readers and low vision."""
from __future__ import annotations

import os
import time

import pytest

from .harness import (AXE_JS, FIRST_START, axe_report, axe_violations, chart_traces, compare_and_wait, expect,
                      open_train, sidebar_link, start_button, wait_app_idle, wait_charts_drawn, wait_until)

# The one exclusion, inside Streamlit: a disabled selectbox (the saved run's read-only settings)
# greys its label, as WCAG 1.4.3 allows for an inactive control, but Streamlit draws that label
# apart from the control (not a <label> of it), so axe cannot tell it belongs to a disabled one.
# Disabled number inputs are labelled properly and need no exclusion.
DISABLED_SELECTBOX_LABELS = '[data-testid="stSelectbox"]:has(input:disabled) [data-testid="stWidgetLabel"]'
PAGES = [("Home", "ARGAE Lab"), ("Learn", "Learn"), ("Compare", "Compare"), ("Latent space", "Latent space"),
         ("Runs", "Runs")]


@pytest.fixture
def axe_installed():
    if not AXE_JS.is_file():
        reason = f"axe-core is missing ({AXE_JS}): run the npm line of .ci/run"
        if os.environ.get("CI"):
            pytest.fail(reason + " (CI is set, so this is an error)")
        pytest.skip(reason)


def audit(page) -> list[dict]:
    """axe's findings once the page has stopped rerunning (elements of a rerun in flight are
    faded for a moment)."""
    wait_charts_drawn(page)
    for _ in range(2):  # idle twice, a second apart: a live fragment's last refresh is over
        wait_app_idle(page)
        time.sleep(1.0)
    wait_app_idle(page)
    return axe_violations(page, exclude=[DISABLED_SELECTBOX_LABELS])


def visit(page, link: str, heading: str) -> None:
    sidebar_link(page, link).click()
    expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()


def test_every_page_passes_an_axe_audit(axe_installed, page, app_url):
    found = {}
    open_train(page, app_url, "epochs=30&seed=5")
    found["Train, before a run"] = audit(page)
    start_button(page).click()
    expect(page.get_by_role("heading", name="Test metrics").first).to_be_visible(timeout=FIRST_START * 1000)
    found["Train, after a run"] = audit(page)
    for link, heading in PAGES:
        visit(page, link, heading)
        if link == "Latent space":
            # PCA: a UMAP picture being computed keeps the page rerunning, and a rerun fades
            # the page for a moment, which axe would read as low contrast
            page.locator('[data-testid="stSidebar"]').get_by_text("PCA (instant)").click()
            wait_until(lambda: any(t["points"] for t in chart_traces(page, "latent_scatter")), 120,
                       what="the latent scatter")
        found[link] = audit(page)
    page.get_by_role("button", name="Open in Train page").click()  # the run just trained
    expect(page.get_by_text("read-only").first).to_be_visible()
    found["Train, a saved run"] = audit(page)
    assert not any(found.values()), "axe-core found:\n" + axe_report(found)


def test_compare_with_results_passes_an_axe_audit(axe_installed, page, app_url):
    """The Compare page once its tables, curves and latent clouds are drawn (its headings
    once skipped a level under the page title)."""
    compare_and_wait(page, app_url, epochs=30)
    expect(page.get_by_role("heading", name="Training curves").first).to_be_visible()
    found = {"Compare, with results": audit(page)}
    assert not any(found.values()), "axe-core found:\n" + axe_report(found)
