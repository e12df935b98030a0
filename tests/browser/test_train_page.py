"""The Train page in a real browser: a live run on KarateClub, its charts and final table; a
run that goes on while its owner visits another page, and that other sessions never see."""
from __future__ import annotations

import time

from .harness import (FIRST_START, epoch_shown, exception_texts, expect, most_points, open_train,
                      settled_point_counts, sidebar_link, start_button, stop_and_wait, table_records,
                      wait_points, wait_until)


def sidebar_choice(page, label: str) -> str:
    """The shown value of the sidebar selectbox labelled `label`."""
    return page.locator('[data-testid="stSidebar"]').get_by_role("combobox", name=label).input_value()


def test_karate_argva_trains_live_and_shows_the_final_metrics(page, app_url, screenshot):
    # Long enough (several seconds even on a fast machine) that Pause lands mid-run: the
    # in-progress check below does not depend on polling inside a short window.
    epochs = 2000
    open_train(page, app_url, f"epochs={epochs}")
    assert sidebar_choice(page, "Dataset").startswith("KarateClub")
    assert sidebar_choice(page, "Model") == "ARGVA"
    assert most_points(page) == 0, "chart points before any run"

    start_button(page).click()
    wait_points(page, 0)
    page.get_by_role("button", name="Pause").click()
    expect(page.get_by_role("button", name="Resume")).to_be_enabled(timeout=30_000)
    paused_at = epoch_shown(page)
    assert paused_at is not None and 0 < paused_at < epochs, f"paused at epoch {paused_at}"
    assert "paused" in page.get_by_test_id("stProgress").inner_text()
    drawn = wait_until(lambda: most_points(page), 30, what="the paused run's curves")
    assert drawn == paused_at, (drawn, paused_at)  # the curves hold every epoch so far, no more
    assert not page.get_by_role("heading", name="Test metrics").count(), "final table while paused"
    screenshot(page, "train-karate-argva-paused")

    page.get_by_role("button", name="Resume").click()
    expect(page.get_by_role("heading", name="Test metrics").first).to_be_visible(timeout=FIRST_START * 1000)
    charts = settled_point_counts(page)  # the page redraws once the run has ended
    # Discriminator loss, D's verdict (real, fake), encoder loss and its parts: every epoch;
    # validation AUC / AP: every eval_interval epochs.
    assert len(charts) == 4, charts
    assert [max(c) for c in charts[:3]] == [epochs] * 3, charts
    assert 0 < max(charts[3]) < epochs, charts

    [row] = wait_until(lambda: table_records(page), 30, what="the metrics table's rows")
    assert {"AUC", "AP", "ACC", "NMI"} <= set(row), row
    assert row["run"] == "ARGVA on karate", row
    assert 0.5 < float(row["AUC"]) <= 1.0, row
    assert not exception_texts(page)
    screenshot(page, "train-karate-argva")


def test_a_run_goes_on_while_its_owner_leaves_and_other_sessions_never_see_it(new_session, app_url):
    alice, bob = new_session(), new_session()
    open_train(alice, app_url, "epochs=5000")
    start_button(alice).click()
    before = wait_points(alice, 5)

    open_train(bob, app_url)
    expect(bob.get_by_text("then press Start")).to_be_visible()
    assert most_points(bob) == 0, "Bob sees points of a run he never started"
    assert bob.get_by_role("button", name="Stop").is_disabled()

    sidebar_link(alice, "Home").click()
    expect(alice.get_by_role("heading", name="ARGAE Lab", exact=True)).to_be_visible()
    sidebar_link(alice, "Train").click()
    expect(alice.get_by_role("heading", name="Train", exact=True)).to_be_visible()
    back = wait_points(alice, before - 1, timeout=60)     # the charts are there again...
    wait_points(alice, back, timeout=60)                    # ...and keep growing
    assert alice.locator('[data-testid="stSidebar"] input[aria-label="Epochs"]').input_value() == "5000"

    stop_and_wait(alice)
    assert not exception_texts(alice) and not exception_texts(bob)


def test_step_pauses_the_run_and_the_buttons_follow(page, app_url):
    """Step pauses the run in the worker, after the click's own page run: the buttons must
    still come to offer Resume (they are drawn outside the live charts)."""
    open_train(page, app_url, "epochs=5000")
    start_button(page).click()
    wait_points(page, 3)
    page.get_by_test_id("stMainBlockContainer").get_by_role("button", name="Step", exact=True).click()
    expect(page.get_by_role("button", name="Resume")).to_be_enabled(timeout=15_000)
    expect(page.get_by_text("· paused")).to_be_visible()
    held = epoch_shown(page)
    time.sleep(1.5)
    assert epoch_shown(page) == held, "a paused run kept training"
    stop_and_wait(page)
    assert not exception_texts(page)
