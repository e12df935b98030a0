"""Serving a class (deploy/cluster.py): a real browser through HAProxy to two Streamlit
replicas on a two-node Ray cluster. A training started there runs in a Ray worker; when the
replica serving the tab is killed, the tab reconnects to the other replica and trains again,
and the run the dead replica's session had started is stopped and kept on disk. Also one
server alone with a private Ray (ARGAE_RAY_ADDRESS=local)."""
from __future__ import annotations

import os
import shutil
import signal
import time
from pathlib import Path

import psutil
import pytest

from argae_core import runs
from deploy.cluster import REPLICA_COOKIE, Deployment, descendants, free_port

from .conftest import TIMINGS
from .harness import AppServer, open_train, start_button, wait_app_idle, wait_points, wait_until

pytest.importorskip("ray")
LONG_RUN = 5000


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, playwright_browser):
    if not shutil.which("haproxy"):
        reason = "haproxy is missing (apt-get install -y haproxy)"
        if os.environ.get("CI"):
            pytest.fail(reason + " (CI is set, so this is an error)")
        pytest.skip(reason)
    base = tmp_path_factory.mktemp("argae-cluster")
    deployment = Deployment(base / "state")
    try:
        info = deployment.start(port=free_port(), env={"ARGAE_RUNS_DIR": str(base / "runs"),
                                                       "ARGAE_CACHE_DIR": str(base / "cache")})
        yield deployment, info, base / "runs"
    finally:
        started = {pid: start_time for group in deployment.groups
                   for pid, start_time in {group.pgid: None, **descendants(group.pgid)}.items()}
        deployment.stop()
    left = [pid for pid, start_time in started.items() if still_running(pid, start_time)]
    assert not left, f"processes of the deployment left running: {left}"


def still_running(pid: int, start_time: str | None) -> bool:
    """The process is there and not a zombie (and, when `start_time` is given, not a reused pid)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[0] not in ("Z", "X") and start_time in (None, fields[19])


def saved(root) -> dict[str, runs.RunSummary]:
    return {summary.run_id: summary for summary in runs.list_runs(root)[0]}


def replica_of(page) -> str:
    """The replica HAProxy pinned this tab to: r0 or r1, from its sticky cookie."""
    return next(c["value"] for c in page.context.cookies() if c["name"] == REPLICA_COOKIE)


def warm_up(page, replica_ports) -> None:
    """The teacher's visit of each replica before class: its first script run imports the
    engine and joins the cluster (the failover below is then timed on warm replicas)."""
    for port in replica_ports:
        page.goto(f"http://127.0.0.1:{port}")
        wait_app_idle(page, timeout=120)


def test_a_class_trains_through_the_balancer_and_survives_losing_a_replica(cluster, new_session):
    deployment, info, runs_root = cluster
    warm_up(new_session(), info["replica_ports"])
    page = new_session()
    open_train(page, info["url"], f"epochs={LONG_RUN}")
    start_button(page).click()
    wait_points(page, 5)
    [orphan] = wait_until(lambda: set(saved(runs_root)), 30, what="the run on disk")
    writer = psutil.Process(runs.load_run(orphan, runs_root).info["pid"])
    assert writer.cmdline()[0].startswith("ray::"), writer.cmdline()   # trained by Ray, not the replica

    first = replica_of(page)
    os.killpg(deployment.group(f"replica{first[1:]}").pgid, signal.SIGKILL)
    killed = time.monotonic()
    wait_until(lambda: replica_of(page) != first, 60, what="the tab moving to the other replica")
    moved = time.monotonic() - killed
    wait_app_idle(page, timeout=60)
    TIMINGS["replica killed -> tab on the other replica / page shown again"] = \
        f"{moved:.1f} s / {time.monotonic() - killed:.1f} s"

    open_train(page, info["url"], "epochs=30")
    start_button(page).click()
    wait_points(page, 5)
    ended = wait_until(lambda: (s := saved(runs_root)[orphan]).status != "running" and s, 120,
                       interval=0.5, what="the dead replica's run to stop")
    assert ended.status == "stopped" and ended.epochs_done < LONG_RUN, ended
    TIMINGS["replica killed -> its session's run stopped"] = f"{time.monotonic() - killed:.1f} s"


def test_one_server_with_a_private_ray_trains_in_a_ray_task(tmp_path, new_session):
    """Ray is started by the first page's script thread, which ends after that run: the
    cluster must outlive it (Ray ties its head's processes to the starting thread)."""
    server = AppServer(tmp_path / "runs", tmp_path / "cache", env={"ARGAE_RAY_ADDRESS": "local"}, log_dir=tmp_path)
    try:
        server.start()
        page = new_session()
        open_train(page, server.url, "epochs=300")
        start_button(page).click()
        wait_points(page, 5)
        [run] = runs.list_runs(tmp_path / "runs")[0]
        writer = psutil.Process(runs.load_run(run.run_id, tmp_path / "runs").info["pid"])
        assert writer.cmdline()[0].startswith("ray::"), writer.cmdline()
    finally:
        server.stop()
    assert not server.group_processes(), f"server processes left running: {server.group_processes()}"
