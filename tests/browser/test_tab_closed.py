"""A browser tab closed mid-training: the server notices the session is gone and stops its
run, which is saved as "stopped" (issue 8). The time it takes is printed at the end."""
from __future__ import annotations

import time

from argae_core import runs

from .conftest import TIMINGS
from .harness import open_train, start_button, wait_points, wait_until

LONG_RUN = 5000


def saved_runs(root) -> dict[str, runs.RunSummary]:
    return {summary.run_id: summary for summary in runs.list_runs(root)[0]}


def test_closing_the_tab_mid_training_stops_the_run(new_session, app_url, server):
    page = new_session()
    earlier = set(saved_runs(server.runs_dir))
    open_train(page, app_url, f"epochs={LONG_RUN}")
    start_button(page).click()
    wait_points(page, 5)
    [run_id] = wait_until(lambda: set(saved_runs(server.runs_dir)) - earlier, 30, what="the run on disk")

    epochs_at_close = saved_runs(server.runs_dir)[run_id].epochs_done
    page.context.close()
    closed = time.monotonic()
    ended = wait_until(lambda: (s := saved_runs(server.runs_dir)[run_id]).status != "running" and s, 90,
                       interval=0.1, what="the run to end after its tab closed")
    seconds = time.monotonic() - closed

    assert ended.status == "stopped", ended
    assert ended.epochs_done < LONG_RUN
    # records.csv is flushed about once a second, so the count at the close may lag: the
    # epochs trained after the close are at most the difference.
    TIMINGS["tab closed -> run saved as stopped"] = (
        f"{seconds:.1f} s, at most {ended.epochs_done - epochs_at_close} epochs after the close "
        f"(KarateClub ARGVA, {ended.epochs_done} of {LONG_RUN} epochs trained)")
