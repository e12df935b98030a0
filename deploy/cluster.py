"""Serve a class from one machine: a Ray head and one Ray worker node, Streamlit replicas
that share the cluster's job queue, and HAProxy in front of them (sticky sessions,
websockets), everything on 127.0.0.1.

    python deploy/cluster.py start [--replicas 2] [--port 8500] [--cpus-per-node 1]
    python deploy/cluster.py stop

Each process runs in a process group of its own, listed in <state dir>/groups.json, so
`stop` ends exactly what `start` began and never another Ray or Streamlit on the machine.
Needs requirements-cluster.txt installed and Debian's haproxy (apt-get install -y haproxy).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parent.parent
BIN_DIR = Path(sys.executable).parent
DEFAULT_STATE_DIR = Path(os.environ.get("ARGAE_DEPLOY_DIR", "/tmp/argae-class"))
OBJECT_STORE_BYTES = 256 * 2**20   # per node: a classroom's snapshots, small enough for CI
REPLICA_COOKIE = "argae_replica"
RAY_NODES = 2                      # the head and one worker node


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(ready, timeout: float, what: str, group: "Group | None" = None) -> None:
    """Poll `ready` until it is true; fail early, with its log, when `group` has exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        if group is not None and group.exited():
            raise RuntimeError(f"{group.name} exited:\n{group.tail()}")
        time.sleep(0.3)
    raise TimeoutError(f"{what} was not ready within {timeout:.0f} s" + (f":\n{group.tail()}" if group else ""))


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as reply:
            return reply.status == 200
    except (urllib.error.URLError, OSError):
        return False


def accepts(port: int) -> bool:
    with socket.socket() as client:
        client.settimeout(1)
        return client.connect_ex(("127.0.0.1", port)) == 0


def descendants(root: int) -> dict[int, str]:
    """The processes `root` started, and theirs: pid -> start time (to tell a reused pid)."""
    started, children = {}, {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        pid = int(stat.parent.name)
        started[pid] = fields[19]
        children.setdefault(int(fields[1]), []).append(pid)
    found, todo = {}, [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found[child] = started[child]
            todo.append(child)
    return found


def _alive_as(pid: int, start_time: str) -> bool:
    """`pid` still runs (not a zombie) and is the process that started at `start_time`."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return False
    return fields[0] not in ("Z", "X") and fields[19] == start_time


def kill_if_same(pid: int, start_time: str) -> None:
    with contextlib.suppress(OSError):
        if _alive_as(pid, start_time):
            os.kill(pid, signal.SIGKILL)


def wait_gone(processes: dict[int, str], timeout: float = 10.0) -> None:
    """Wait (bounded) until the processes are gone: SIGKILL acts when each next runs, and one
    in the middle of a disk write finishes it first."""
    deadline = time.monotonic() + timeout
    while any(_alive_as(pid, start) for pid, start in processes.items()) and time.monotonic() < deadline:
        time.sleep(0.1)


class Group:
    """One command in a process group of its own (with everything it starts), logging to a file."""

    def __init__(self, name: str, pgid: int, log: Path, process: subprocess.Popen | None = None):
        self.name, self.pgid, self.log, self.process = name, pgid, log, process

    @classmethod
    def start(cls, name: str, command: list[str], env: dict, log: Path) -> "Group":
        with open(log, "wb") as out:
            process = subprocess.Popen(command, cwd=REPO_DIR, env=env, stdout=out, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        return cls(name, process.pid, log, process)

    def exited(self) -> bool:
        """Its first process ended (only known for a group started by this process)."""
        return self.process is not None and self.process.poll() is not None

    def alive(self) -> bool:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pgid, 0)
            return True
        return False

    def stop(self, grace: float = 15.0) -> None:
        """SIGTERM (Ray's `--block` then takes its node down), then SIGKILL what is left, and
        last any process it started in a group of its own (Ray's workers) that outlived it."""
        started = descendants(self.pgid)
        self._stop_group(grace)
        for pid, start_time in started.items():
            kill_if_same(pid, start_time)
        wait_gone(started)

    def _stop_group(self, grace: float) -> None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pgid, sig)
            deadline = time.monotonic() + grace
            while self.alive() and time.monotonic() < deadline:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(-self.pgid, os.WNOHANG)  # reap ours, or a zombie leader looks alive
                time.sleep(0.2)
            if not self.alive():
                return

    def tail(self, chars: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"


def haproxy_config(port: int, replica_ports: list[int]) -> str:
    """Sticky by a cookie HAProxy sets (a session's page and its websocket reach the same
    replica); a replica that fails its health check is left out and its users go to another."""
    servers = "\n".join(f"    server replica{i} 127.0.0.1:{p} check inter 2s fall 3 rise 2 cookie r{i}"
                        for i, p in enumerate(replica_ports))
    return f"""global
    maxconn 2000
defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    timeout tunnel 2h
    option redispatch
    retries 2
    # A busy replica can take over a second to answer its health check; a dead one refuses at
    # once, and its requests are redispatched whatever the check says.
    timeout check 5s
frontend class
    bind 127.0.0.1:{port}
    default_backend replicas
backend replicas
    balance leastconn
    cookie {REPLICA_COOKIE} insert indirect nocache httponly
    option httpchk GET /_stcore/health
{servers}
"""


class Deployment:
    """Start and stop the whole thing; `groups.json` in the state dir is what `stop` reads."""

    def __init__(self, state_dir: Path = DEFAULT_STATE_DIR):
        self.state_dir = Path(state_dir)
        self.groups: list[Group] = []

    @property
    def state_file(self) -> Path:
        return self.state_dir / "groups.json"

    def start(self, *, replicas: int = 2, port: int = 8500, cpus_per_node: int = 1,
              env: dict | None = None, timeout: float = 120.0) -> dict:
        if self.state_file.exists():
            raise RuntimeError(f"{self.state_file} exists: run `stop` first")
        self.state_dir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "PYTHONPATH": str(REPO_DIR), **self._auth_env(), **(env or {})}
        try:
            info = self._start(replicas, port, cpus_per_node, env, timeout)
        except BaseException:
            self.stop()
            raise
        return info

    def _start(self, replicas, port, cpus_per_node, env, timeout) -> dict:
        gcs = free_port()
        ray = [sys.executable, "-m", "argae_core.ray_loopback"]   # `ray start`, on 127.0.0.1 only
        node = ["--num-cpus", str(cpus_per_node), "--object-store-memory", str(OBJECT_STORE_BYTES),
                "--node-ip-address", "127.0.0.1", "--block"]
        # Ray's temp dir holds its unix sockets, whose paths must fit in 107 bytes: keep it short.
        head = self._launch("ray-head", [*ray, "start", "--head", "--port", str(gcs), "--include-dashboard", "false",
                                         "--temp-dir", f"/tmp/argae-ray-{gcs}", *node], env)
        wait_for(lambda: accepts(gcs), timeout, "the Ray head", head)
        self._launch("ray-worker", [*ray, "start", "--address", f"127.0.0.1:{gcs}", *node], env)
        self._wait_nodes(gcs, RAY_NODES, timeout, env)
        # One cookie secret for every replica: Streamlit signs its XSRF cookie with it, and a
        # user moved to another replica must still pass the check (uploads).
        replica_env = {**env, "ARGAE_RAY_ADDRESS": f"127.0.0.1:{gcs}", "ARGAE_MAX_JOBS": str(RAY_NODES * cpus_per_node),
                       "STREAMLIT_SERVER_COOKIE_SECRET": secrets.token_hex(16)}
        ports = [free_port() for _ in range(replicas)]
        started = [self._launch(f"replica{i}", [str(BIN_DIR / "streamlit"), "run", "app.py",
                                                "--server.address", "127.0.0.1", "--server.port", str(p),
                                                "--server.headless", "true", "--browser.gatherUsageStats", "false"],
                                replica_env) for i, p in enumerate(ports)]
        for replica, replica_port in zip(started, ports):
            wait_for(lambda: answers(f"http://127.0.0.1:{replica_port}/_stcore/health"), timeout, "a replica", replica)
        config = self.state_dir / "haproxy.cfg"
        config.write_text(haproxy_config(port, ports))
        balancer = self._launch("balancer", ["haproxy", "-db", "-f", str(config)], env)
        wait_for(lambda: answers(f"http://127.0.0.1:{port}/_stcore/health"), timeout, "the balancer", balancer)
        info = {"url": f"http://127.0.0.1:{port}", "ray": f"127.0.0.1:{gcs}", "replica_ports": ports}
        (self.state_dir / "info.json").write_text(json.dumps(info))
        return info

    def _auth_env(self) -> dict:
        """Ray's token authentication, with this deployment's own token: every node and replica
        reads it from the state dir (readable by this user only)."""
        token = self.state_dir / "auth_token"
        token.touch(mode=0o600)
        token.write_text(secrets.token_hex(32))
        return {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(token)}

    def _launch(self, name: str, command: list[str], env: dict) -> Group:
        group = Group.start(name, command, env, self.state_dir / f"{name}.log")
        self.groups.append(group)
        self.state_file.write_text(json.dumps([[g.name, g.pgid, str(g.log)] for g in self.groups]))
        return group

    def _wait_nodes(self, gcs: int, count: int, timeout: float, env: dict) -> None:
        """A worker node joins a while after its `ray start` began: ask the cluster how many are alive."""
        probe = ("import ray, sys; from argae_core.ray_jobs import connect; connect(sys.argv[1]); "
                 "print(sum(n['Alive'] for n in ray.nodes()))")

        def joined() -> bool:
            try:
                done = subprocess.run([sys.executable, "-c", probe, f"127.0.0.1:{gcs}"], env=env,
                                      capture_output=True, text=True, timeout=60)
            except subprocess.TimeoutExpired:
                return False
            return done.returncode == 0 and done.stdout.strip().endswith(str(count))
        wait_for(joined, timeout, f"{count} Ray nodes")

    def group(self, name: str) -> Group:
        return next(g for g in self.groups if g.name == name)

    def stop(self) -> None:
        """Stop in reverse order (balancer first, Ray last), whether started here or earlier."""
        if not self.groups and self.state_file.exists():
            self.groups = [Group(name, pgid, Path(log)) for name, pgid, log in json.loads(self.state_file.read_text())]
        for group in reversed(self.groups):
            group.stop()
        self.groups = []
        with contextlib.suppress(FileNotFoundError):
            self.state_file.unlink()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("start", "stop"))
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--port", type=int, default=8500, help="the balancer's port on 127.0.0.1")
    parser.add_argument("--cpus-per-node", type=int, default=1, help="trainings at once per Ray node")
    parser.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR, help="logs and the process list")
    args = parser.parse_args(argv)
    deployment = Deployment(args.state_dir)
    if args.command == "stop":
        deployment.stop()
        print("stopped")
        return
    info = deployment.start(replicas=args.replicas, port=args.port, cpus_per_node=args.cpus_per_node)
    print(f"serving {info['url']} ({args.replicas} replicas, Ray at {info['ray']}); "
          f"logs in {args.state_dir}; stop with: python deploy/cluster.py stop")


if __name__ == "__main__":
    main()
