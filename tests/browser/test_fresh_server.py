"""Servers of their own: a shared link as the very first visit, and a server killed in the
middle of a run (issue 8: after a restart the run is listed incomplete with its finished
epochs, by the engine and on the Runs page)."""
from __future__ import annotations

import time

import pytest

from argae_core import runs

from .harness import (APP_IDLE_JS, AppServer, exception_texts, expect, nav_links, open_train, start_button, wait_app_idle,
                      wait_points, wait_until)


@pytest.fixture(scope="module")
def fresh_server(playwright_browser, tmp_path_factory):
    """A server nobody has visited yet, on its own runs folder. Shared by this module's two
    tests, in file order: the first visits it first, the second kills it."""
    base = tmp_path_factory.mktemp("fresh-server")
    # One training slot: one worker importing torch at start-up instead of two.
    app = AppServer(base / "runs", base / "cache", log_dir=base, env={"ARGAE_MAX_JOBS": "1"})
    try:
        yield app.start()
    finally:
        app.stop()
    assert not app.group_processes() and app.wait_port_free()


def test_a_shared_train_link_opened_by_two_students_at_once_on_a_fresh_server(fresh_server, new_session):
    """The first visits of a server, both deep links at the same moment: a classroom."""
    students = [new_session(), new_session()]
    for page in students:            # goto returns at the load event, before the script runs
        page.goto(f"{fresh_server.url}/train?epochs=50")
    # Until the app's navigation arrives, Streamlit lists every file of pages/ ("common",
    # "app", ...): that must not outlast the first moments of a first visit.
    listed = set()
    deadline = time.monotonic() + 120
    while not all(page.evaluate(APP_IDLE_JS) for page in students) and time.monotonic() < deadline:
        for page in students:
            listed.update(nav_links(page))
        time.sleep(0.1)
    assert not listed & {"app", "common", "train", "home"}, f"the pages/ folder was listed: {listed}"
    for page in students:
        wait_app_idle(page, timeout=120)
        assert not exception_texts(page), exception_texts(page)
        expect(start_button(page)).to_be_enabled()
        assert set(nav_links(page)) >= {"Home", "Train"}, nav_links(page)


def test_a_killed_server_leaves_the_run_listed_incomplete_with_its_epochs(fresh_server, page, tmp_path):
    open_train(page, fresh_server.url, "epochs=5000")
    start_button(page).click()
    wait_points(page, 5)
    wait_until(lambda: any(r.epochs_done > 0 for r in runs.list_runs(fresh_server.runs_dir)[0]), 30,
               what="epochs saved on disk")

    fresh_server.kill()
    assert not fresh_server.group_processes(), "the workers outlived their killed server"

    with AppServer(fresh_server.runs_dir, fresh_server.cache_dir, log_dir=tmp_path) as restarted:
        listed, warnings = runs.list_runs(restarted.runs_dir)
        assert [(r.status, r.dataset, r.model) for r in listed] == [("incomplete", "karate", "argva")]
        assert 0 < listed[0].epochs_done < 5000
        assert not warnings

        page.goto(f"{restarted.url}/runs")   # the same tab reconnects to the new server
        wait_app_idle(page)
        # the header shows it (the table too, on a canvas with a hidden copy for screen readers)
        expect(page.get_by_text(listed[0].run_id).filter(visible=True).first).to_be_visible()
        expect(page.get_by_text(f"stopped after {listed[0].epochs_done} of 5000 epochs")).to_be_visible()
        assert page.get_by_text("incomplete").first.is_visible()
        assert not exception_texts(page)
