"""Who may see, open, delete, stop and share a run (argae_core.access), the owner kept with
the run on disk and with its job, and the pages obeying the rules under AppTest (st.user
seeded, [auth] in the test's secrets). The real sign-in is tests/browser/test_sign_in.py."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
import torch

os.environ.setdefault("ARGAE_EXECUTOR", "thread")

from apptest_helpers import AppTest, button, save_run  # noqa: E402

from argae_core import access, runs, storage  # noqa: E402
from argae_core.access import NOBODY_SIGNED_IN, Viewer  # noqa: E402
from argae_core.config import TrainConfig  # noqa: E402
from argae_core.jobs import JobManager, ThreadExecutor  # noqa: E402
from waiting import wait  # noqa: E402

APP = str(Path(__file__).resolve().parent.parent / "app.py")
ALICE, BOB, TEACHER = Viewer("alice@school.test"), Viewer("bob@school.test"), Viewer("teach@school.test", True)
AUTH = {"redirect_uri": "http://127.0.0.1:1/oauth2callback", "cookie_secret": "x" * 32, "client_id": "argae",
        "client_secret": "s", "server_metadata_url": "http://127.0.0.1:1/.well-known/openid-configuration"}


# ------------------------------------------------------------------ the rules
def test_without_sign_in_everything_is_allowed_as_before():
    assert access.may_see(NOBODY_SIGNED_IN, "alice@school.test")
    assert access.may_delete(NOBODY_SIGNED_IN, None) and access.may_stop(NOBODY_SIGNED_IN, "x")
    assert not access.may_share(NOBODY_SIGNED_IN)   # nobody to share with


def test_a_student_sees_and_manages_only_their_own_runs():
    assert access.may_see(ALICE, "alice@school.test") and access.may_delete(ALICE, "Alice@School.test ")
    assert not access.may_see(BOB, "alice@school.test")
    assert not access.may_delete(BOB, "alice@school.test") and not access.may_stop(BOB, "alice@school.test")
    assert not access.may_see(BOB, None) and not access.may_delete(BOB, None)   # the teachers' runs
    assert not access.may_share(ALICE)


def test_a_shared_run_is_seen_by_every_student_but_managed_only_by_its_owner_and_teachers():
    assert access.may_see(BOB, "alice@school.test", shared=True)
    assert not access.may_delete(BOB, "alice@school.test")


def test_a_teacher_sees_stops_deletes_and_shares_every_run():
    for owner in ("alice@school.test", "bob@school.test", None):
        assert access.may_see(TEACHER, owner) and access.may_delete(TEACHER, owner)
        assert access.may_stop(TEACHER, owner)
    assert access.may_share(TEACHER)


def test_teachers_come_from_the_environment_and_the_secrets_without_case():
    teachers = access.teachers_from(" Teach@School.test, other@x.org ", ["third@x.org"])
    assert teachers == {"teach@school.test", "other@x.org", "third@x.org"}
    assert access.teachers_from(None, "a@x.org b@x.org") == {"a@x.org", "b@x.org"}
    assert access.viewer_from({"email": "TEACH@school.test"}, teachers) == TEACHER
    assert access.viewer_from({"sub": "bob@school.test"}, teachers) == BOB
    with pytest.raises(ValueError):
        access.viewer_from({"name": "nobody"}, teachers)


def test_visible_keeps_the_listing_order():
    class S:
        def __init__(self, owner, shared=False):
            self.owner, self.shared = owner, shared
    listing = [S("bob@school.test"), S("alice@school.test"), S(None), S("alice@school.test", True)]
    assert access.visible(BOB, listing) == [listing[0], listing[3]]
    assert access.visible(TEACHER, listing) == listing


# ------------------------------------------------------------------ on disk, in jobs
def test_the_owner_is_saved_with_the_run_and_sharing_is_a_mark_beside_it(tmp_path):
    config = TrainConfig(dataset="karate", model="gae", epochs=2)
    from argae_core.training import Trainer
    trainer = Trainer(config)
    writer = runs.RunWriter(config, trainer.graph, root=tmp_path, owner="alice@school.test")
    for _ in runs.record_run(trainer, writer):
        pass
    [summary] = runs.list_runs(tmp_path)[0]
    assert (summary.owner, summary.shared) == ("alice@school.test", False)
    assert runs.load_run(writer.run_id, tmp_path).info["owner"] == "alice@school.test"
    runs.set_shared(writer.run_id, True, tmp_path)
    assert runs.list_runs(tmp_path)[0][0].shared
    runs.set_shared(writer.run_id, False, tmp_path)
    assert not runs.list_runs(tmp_path)[0][0].shared



def test_a_job_saves_its_user_as_the_runs_owner_and_stop_run_stops_it_from_any_session(tmp_path):
    manager = JobManager(ThreadExecutor(slots=1, runs_root=str(tmp_path)), owner_timeout=60)
    try:
        job_id = manager.submit("session-1", TrainConfig(dataset="karate", epochs=5000), user="alice@school.test")
        wait(lambda: manager.get(job_id, "session-1").epochs_done >= 2)
        job = manager.get(job_id, "session-1")
        assert job.user == "alice@school.test"
        assert runs.load_run(job.run_id, tmp_path).info["owner"] == "alice@school.test"
        assert not manager.stop_run("no-such-run")
        assert manager.stop_run(job.run_id)        # a teacher's session, which holds no job
        wait(lambda: not manager.get(job_id, "session-1").active)
        assert manager.get(job_id, "session-1").state == "stopped"
        assert runs.load_run(job.run_id, tmp_path).status == "stopped"
        assert not manager.stop_run(job.run_id)    # nothing active any more
    finally:
        manager.shutdown()


# ------------------------------------------------------------------ the pages
@pytest.fixture(scope="module")
def class_runs(tmp_path_factory):
    """Alice's run (older) and Bob's (newer), saved with their owners."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("class-runs")
    ids = {}
    for name, seed in (("alice", 0), ("bob", 1)):
        run_id = save_run(TrainConfig(dataset="karate", model="gae", epochs=4, seed=seed), root)
        status = json.loads((root / run_id / "status.json").read_text())
        storage.atomic_write(root / run_id / "status.json",
                             storage.json_bytes({**status, "owner": f"{name}@school.test"}))
        ids[name] = run_id
        time.sleep(1.1)   # run ids and start stamps are to the second: keep the order
    torch.set_num_threads(threads)
    return root, ids


@pytest.fixture
def signed_in(class_runs, monkeypatch):
    """open(page, email) -> the app at `page` with sign-in configured and `email` signed in."""
    root, _ = class_runs
    monkeypatch.setenv("ARGAE_RUNS_DIR", str(root))
    monkeypatch.setenv(access.TEACHERS_ENV, TEACHER.email)

    def open_as(page: str, email: str | None, query: dict | None = None) -> AppTest:
        at = AppTest.from_file(APP, default_timeout=60)
        at.secrets["auth"] = AUTH
        at.user = {"is_logged_in": True, "email": email} if email else {"is_logged_in": False}
        for key, value in (query or {}).items():
            at.query_params[key] = value
        at.run()
        if email:
            at.switch_page(page)
            at.run()
        assert not at.exception, [e.value for e in at.exception]
        return at
    return open_as


def listed(at: AppTest) -> list[str]:
    frames = [d.value for d in at.dataframe if "run" in d.value.columns]
    return list(frames[0]["run"]) if frames else []


def test_a_visitor_not_signed_in_sees_only_the_sign_in_button(signed_in):
    at = signed_in("pages/runs.py", None)
    assert [b.label for b in at.button] == ["Sign in"]
    assert not at.dataframe


def test_a_student_lists_only_their_runs_until_a_teacher_shares_one(signed_in, class_runs):
    root, ids = class_runs
    at = signed_in("pages/runs.py", BOB.email)
    assert listed(at) == [ids["bob"]]
    assert not button(at, "Delete").disabled
    assert not [t for t in at.toggle]                      # students do not share
    runs.set_shared(ids["alice"], True, root)
    try:
        at = signed_in("pages/runs.py", BOB.email, {"run": ids["alice"]})
        assert listed(at) == [ids["bob"], ids["alice"]]
        assert at.session_state["runs_picked"] == ids["alice"]
        assert button(at, "Delete").disabled                # Alice's, shared: seen, not deleted
    finally:
        runs.set_shared(ids["alice"], False, root)


def test_a_link_to_another_students_run_says_it_is_not_shown(signed_in, class_runs):
    _, ids = class_runs
    at = signed_in("pages/train.py", BOB.email, {"run": ids["alice"]})
    assert any("not one of yours" in w.value for w in at.warning)
    assert "view_run" not in at.session_state and "run" not in at.query_params
    at = signed_in("pages/train.py", ALICE.email, {"run": ids["alice"]})
    assert at.session_state["view_run"] == ids["alice"]


def test_a_teacher_lists_every_run_shares_and_deletes_any(signed_in, class_runs):
    root, ids = class_runs
    at = signed_in("pages/runs.py", TEACHER.email, {"run": ids["alice"]})
    assert listed(at) == [ids["bob"], ids["alice"]]
    share = next(t for t in at.toggle if t.label == "Shared with the class")
    share.set_value(True).run()
    assert runs.list_runs(root)[0][1].shared
    next(t for t in at.toggle if t.label == "Shared with the class").set_value(False).run()
    assert not runs.list_runs(root)[0][1].shared
    assert not button(at, "Delete").disabled


def test_without_sign_in_the_runs_page_is_as_before(class_runs, monkeypatch):
    root, ids = class_runs
    monkeypatch.setenv("ARGAE_RUNS_DIR", str(root))
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("pages/runs.py")
    at.run()
    assert not at.exception
    assert listed(at) == [ids["bob"], ids["alice"]]
    frame = next(d.value for d in at.dataframe if "run" in d.value.columns)
    assert "owner" not in frame.columns and not at.toggle
    assert "Sign out" not in [b.label for b in at.button]
