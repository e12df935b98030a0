"""Sign-in end to end: the app with Streamlit's st.login against a local OpenID Connect
provider (oidc-provider-mock on 127.0.0.1), two students and a teacher, each in their own
headless Chromium context. Student A's run is invisible to student B (listed, and by link),
B cannot delete it once shared, the teacher sees both, stops B's training and deletes A's run.
Every process started here (provider, server, workers) is stopped at the end, also on failure."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.request

import pytest

from argae_core import runs

from .harness import (FIRST_START, AppServer, exception_texts, expect, free_port, group_processes,
                      open_train, start_button, wait_app_idle, wait_until)

STUDENT_A, STUDENT_B, TEACHER = "ada@school.test", "ben@school.test", "tess@school.test"


def start_provider(port: int, log) -> subprocess.Popen:
    """oidc-provider-mock on 127.0.0.1:port with the three users' claims."""
    claims = [json.dumps({"sub": email, "email": email, "name": email.split("@")[0]})
              for email in (STUDENT_A, STUDENT_B, TEACHER)]
    command = [sys.executable, "-m", "oidc_provider_mock", "--host", "127.0.0.1", "--port", str(port)]
    for claim in claims:
        command += ["--user-claims", claim]
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, "the OpenID provider exited at start"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/.well-known/openid-configuration", timeout=2):
                return process
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise TimeoutError("the OpenID provider did not answer within 60 s")


@pytest.fixture
def class_server(playwright_browser, tmp_path):
    """(server, runs folder): the app with [auth] pointing at the provider, TESS a teacher."""
    provider_port, app = free_port(), None
    secrets = tmp_path / "secrets.toml"
    app_port = free_port()
    secrets.write_text(f"""[auth]
redirect_uri = "http://127.0.0.1:{app_port}/oauth2callback"
cookie_secret = "a-test-secret-that-is-long-enough-0123456789"
client_id = "argae-lab"
client_secret = "not-a-secret"
server_metadata_url = "http://127.0.0.1:{provider_port}/.well-known/openid-configuration"

[argae]
teachers = ["{TEACHER}"]
""")
    with open(tmp_path / "provider.log", "wb") as log:
        provider = start_provider(provider_port, log)
        try:
            app = AppServer(tmp_path / "runs", tmp_path / "cache", port=app_port, log_dir=tmp_path,
                            env={"ARGAE_MAX_JOBS": "2"}, args=("--secrets.files", str(secrets)))
            app.start()
            yield app, tmp_path / "runs"
        finally:
            if app is not None:
                app.stop()
            provider.terminate()
            try:
                provider.wait(timeout=10)
            except subprocess.TimeoutExpired:
                provider.kill()
                provider.wait(timeout=10)
    assert not group_processes(provider.pid), "the OpenID provider is still running"
    assert not app.group_processes(), f"server processes left running: {app.group_processes()}"


@pytest.fixture
def sign_in(class_server, playwright_browser):
    """sign_in(email) -> the page of a new browser context signed in as `email` through the
    provider's form. The contexts are closed before the server stops, also on failure."""
    contexts = []

    def open_as(email: str):
        context = playwright_browser.new_context(viewport={"width": 1400, "height": 1000})
        contexts.append(context)
        page = context.new_page()
        page.goto(class_server[0].url)
        wait_app_idle(page)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_placeholder("sub").fill(email)          # the provider's authorization form
        page.get_by_role("button", name="Authorize").click()
        expect(page.get_by_text(f"Signed in as {email}")).to_be_visible(timeout=60_000)
        return page
    yield open_as
    for context in contexts:
        context.close()


def saved(root) -> dict[str, runs.RunSummary]:
    return {s.run_id: s for s in runs.list_runs(root)[0]}


def run_of(root, owner: str, status: str | None = None) -> runs.RunSummary:
    def found():
        mine = [s for s in saved(root).values() if s.owner == owner and (status is None or s.status == status)]
        return mine[0] if mine else None
    return wait_until(found, FIRST_START, what=f"a {status or ''} run of {owner} on disk")


def listed(page) -> int | None:
    """How many runs the Runs page lists (its caption under the table: "2 of 2 runs")."""
    found = re.search(r"(\d+) of \d+ runs", shown_run(page))
    return int(found.group(1)) if found else None


def shown_run(page) -> str:
    """The page's captions: the table's count, and the shown run's id under its header."""
    return " ".join(page.locator('[data-testid="stCaptionContainer"]').all_inner_texts())


def open_runs(page, url: str, run_id: str | None = None) -> None:
    page.goto(f"{url}/runs" + (f"?run={run_id}" if run_id else ""))
    wait_app_idle(page)
    expect(page.get_by_role("heading", name="Runs", exact=True)).to_be_visible()


def test_students_see_their_own_runs_and_the_teacher_manages_all(class_server, sign_in, screenshot):
    app, root = class_server
    ada = sign_in(STUDENT_A)
    open_train(ada, app.url, "model=gae&epochs=30")
    start_button(ada).click()
    ada_run = run_of(root, STUDENT_A, "finished").run_id

    ben = sign_in(STUDENT_B)
    # A run the teacher will stop: long enough to outlast the steps before the Stop (10,000
    # KarateClub epochs now train in about 7 s, and CI once saw Ben's run finish first).
    open_train(ben, app.url, "dataset=planted&planted_nodes=3000&model=gae&epochs=10000")
    start_button(ben).click()
    ben_run = run_of(root, STUDENT_B, "running").run_id

    # Ben, in a second tab (his training's tab stays open): only his run; Ada's link refused.
    ben_tab = ben.context.new_page()
    open_runs(ben_tab, app.url)
    wait_until(lambda: listed(ben_tab) == 1 and ben_run in shown_run(ben_tab), 30, what="Ben's run alone")
    ben_tab.goto(f"{app.url}/train?run={ada_run}")
    wait_app_idle(ben_tab)
    expect(ben_tab.get_by_text("is not one of yours")).to_be_visible()
    assert ada_run not in ben_tab.url

    # The teacher sees both, shares Ada's run, stops Ben's training.
    tess = sign_in(TEACHER)
    open_runs(tess, app.url, ben_run)
    wait_until(lambda: listed(tess) == 2 and ben_run in shown_run(tess), 30, what="both runs in the teacher's table")
    screenshot(tess, "runs-teacher")
    tess.get_by_role("button", name="Stop training").click()
    wait_until(lambda: saved(root)[ben_run].status == "stopped", 60, what="Ben's run stopped")
    open_runs(tess, app.url, ada_run)
    tess.get_by_text("Shared with the class").click()
    wait_until(lambda: saved(root)[ada_run].shared, 30, what="Ada's run shared")

    # Ben now sees Ada's run, and cannot delete it.
    open_runs(ben_tab, app.url, ada_run)
    wait_until(lambda: listed(ben_tab) == 2 and ada_run in shown_run(ben_tab), 30, what="the shared run in Ben's table")
    expect(ben_tab.get_by_role("button", name="Delete")).to_be_disabled()
    expect(ben.get_by_text("Stopped").first).to_be_visible()   # his Train tab says his run was stopped

    # The teacher deletes Ada's run.
    open_runs(tess, app.url, ada_run)
    tess.get_by_role("button", name="Delete").click()
    tess.get_by_role("button", name=f"Yes, delete {ada_run}").click()
    expect(tess.get_by_text(f"Deleted run {ada_run}")).to_be_visible()
    assert ada_run not in saved(root)
    for page in (ada, ben, ben_tab, tess):
        assert not exception_texts(page)
