"""Every page of the real app opens in Chromium without an exception box."""
from __future__ import annotations

from urllib.parse import urlparse

from .harness import EXCEPTION_BOX, exception_texts, nav_links, wait_app_idle


def test_home_page_shows_the_title_and_no_exception(page, app_url, screenshot):
    page.goto(app_url)
    wait_app_idle(page)
    assert page.get_by_role("heading", name="ARGAE Lab").is_visible()
    assert page.get_by_text("adversarially regularized graph autoencoders").is_visible()
    assert not exception_texts(page)
    screenshot(page, "home")


def test_every_page_in_the_navigation_opens_without_an_exception(page, app_url, screenshot):
    page.goto(app_url)
    wait_app_idle(page)
    links = nav_links(page)
    assert {"Home", "Train"} <= set(links), f"the sidebar lists {sorted(links)}"
    for label, href in links.items():
        page.goto(href)
        wait_app_idle(page)
        assert page.locator("h1").first.is_visible(), f"page {label} has no title"
        assert page.locator(EXCEPTION_BOX).count() == 0, f"page {label}: {exception_texts(page)}"
        screenshot(page, "page-" + (urlparse(href).path.strip("/") or "home"))
