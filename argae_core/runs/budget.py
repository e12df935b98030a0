"""Disk budgets for saved runs: each run at most `ARGAE_RUN_DISK_MB` (default 1024 MB), the
whole runs folder at most `ARGAE_RUNS_DISK_MB` (default 8192 MB); secrets.toml's
`[argae] run_disk_mb / runs_disk_mb` set them when the variables are not (app.py).

Over a budget, snapshots are dropped, the oldest first: for a run's budget its own oldest
epochs, for the folder's budget the oldest runs' snapshots first. Never dropped: the newest
snapshot of a run (the Latent page has a picture to show), the final Z (embedding.npz), the
metrics, config, records and weights. A dropped snapshot leaves a marker beside where it was,
`snapshots/epoch_00010.dropped.json` (its epoch, size, which budget, when), so the reader, the
Latent page's epoch slider and the Runs page say which epochs went and why: nothing is lost
silently. The run writer applies the budgets as it saves snapshots and when it finishes.
"""
from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from ..storage import HIDDEN_PREFIX, atomic_write
from .folder import RUN_ID_PATTERN, SNAPSHOT_PATTERN
from .liveness import _now

RUN_ENV, RUNS_ENV = "ARGAE_RUN_DISK_MB", "ARGAE_RUNS_DISK_MB"
SECRETS = {"run_disk_mb": RUN_ENV, "runs_disk_mb": RUNS_ENV}   # [argae] keys of secrets.toml
DEFAULT_RUN_MB, DEFAULT_RUNS_MB = 1024, 8192
MB = 2**20
MARKER_SUFFIX = ".dropped.json"


@dataclass(frozen=True)
class Budgets:
    run_mb: float
    runs_mb: float
    problems: tuple[str, ...] = field(default=())   # a variable that could not be read (its default used)

    @property
    def run_bytes(self) -> int:
        return int(self.run_mb * MB)

    @property
    def runs_bytes(self) -> int:
        return int(self.runs_mb * MB)


def _megabytes(name: str, default: int, problems: list[str]) -> float:
    text = os.environ.get(name, "").strip()
    if not text:
        return float(default)
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        problems.append(f"{name}={text[:40]!r} is not a positive number of megabytes; "
                        f"the default {default:,} MB applies")
        return float(default)
    return value


def budgets() -> Budgets:
    """The budgets in effect now (the environment, else the defaults)."""
    problems: list[str] = []
    return Budgets(_megabytes(RUN_ENV, DEFAULT_RUN_MB, problems),
                   _megabytes(RUNS_ENV, DEFAULT_RUNS_MB, problems), tuple(problems))


def adopt_secrets(section: dict) -> None:
    """Copy `[argae] run_disk_mb / runs_disk_mb` into the environment where the variable is
    unset, so the writers (threads and worker processes started later) see them."""
    for key, name in SECRETS.items():
        if section.get(key) is not None and not os.environ.get(name):
            os.environ[name] = str(section[key])


# ------------------------------------------------------------------ sizes
def folder_bytes(path: Path) -> int:
    """Bytes of the regular files under `path` (links not followed)."""
    total = 0
    for folder, _, files in os.walk(path):
        for name in files:
            try:
                status = os.lstat(os.path.join(folder, name))
            except OSError:
                continue   # removed meanwhile
            total += status.st_size if stat.S_ISREG(status.st_mode) else 0
    return total


def usage(run_path: Path) -> tuple[int, int]:
    """(bytes of the run folder's regular files, snapshots dropped) in one pass (the listing's)."""
    total, names = 0, set()
    for folder, _, files in os.walk(run_path):
        in_snapshots = Path(folder) == run_path / "snapshots"
        for name in files:
            try:
                status = os.lstat(os.path.join(folder, name))
            except OSError:
                continue
            total += status.st_size if stat.S_ISREG(status.st_mode) else 0
            if in_snapshots:
                names.add(name)
    dropped_count = sum(1 for name in names if name.endswith(MARKER_SUFFIX)
                        and SNAPSHOT_PATTERN.fullmatch(name[:-len(MARKER_SUFFIX)] + ".npz")
                        and name[:-len(MARKER_SUFFIX)] + ".npz" not in names)
    return total, dropped_count


def snapshot_files(run_path: Path) -> dict[int, Path]:
    """The run's snapshot files by epoch."""
    folder = run_path / "snapshots"
    if not folder.is_dir():
        return {}
    found = {}
    for entry in folder.iterdir():
        match = SNAPSHOT_PATTERN.fullmatch(entry.name)
        if match:
            found[int(match.group(1))] = entry
    return dict(sorted(found.items()))


def dropped(run_path: Path) -> dict[int, dict]:
    """Epochs whose snapshot was dropped, with what its marker says ({} when none). A marker
    beside a snapshot still there (a drop cut short) does not count."""
    folder = run_path / "snapshots"
    if not folder.is_dir():
        return {}
    out = {}
    for entry in folder.iterdir():
        if not entry.name.endswith(MARKER_SUFFIX):
            continue
        match = SNAPSHOT_PATTERN.fullmatch(entry.name[:-len(MARKER_SUFFIX)] + ".npz")
        if not match or (folder / (entry.name[:-len(MARKER_SUFFIX)] + ".npz")).exists():
            continue
        try:
            info = json.loads(entry.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError):
            info = {}
        out[int(match.group(1))] = info if isinstance(info, dict) else {}
    return dict(sorted(out.items()))


def drop_note(info: dict) -> str:
    """Why a snapshot was dropped, in words."""
    reason = info.get("reason") if isinstance(info.get("reason"), str) else "a disk budget"
    when = info.get("dropped_at") if isinstance(info.get("dropped_at"), str) else None
    return f"dropped to keep {reason}" + (f" ({when[:16].replace('T', ' ')} UTC)" if when else "")


def drop_snapshot(path: Path, epoch: int, reason: str) -> int:
    """Replace a snapshot by its marker; the bytes freed, net of the marker (0 if it was gone)."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return 0
    marker = path.with_name(path.name[:-len(".npz")] + MARKER_SUFFIX)
    note = json.dumps({"epoch": epoch, "bytes": size, "reason": reason, "dropped_at": _now()}).encode()
    atomic_write(marker, note)
    try:
        path.unlink()
    except FileNotFoundError:
        return 0
    return size - len(note)   # the marker takes a little of it back


# ------------------------------------------------------------------ enforcing
def megabytes(value: float) -> str:
    """A size in MB as text: whole megabytes, or two digits below 10 MB."""
    return f"{value:,.0f}" if value >= 10 else f"{value:.2g}"


def run_reason(budget: Budgets) -> str:
    return f"the run within its {megabytes(budget.run_mb)} MB ({RUN_ENV})"


def runs_reason(budget: Budgets) -> str:
    return f"the runs folder within its {megabytes(budget.runs_mb)} MB ({RUNS_ENV})"


def enforce_run(run_path: Path, budget: Budgets | None = None) -> list[int]:
    """Drop the run's oldest snapshots (never its newest) until it fits its budget; the epochs dropped."""
    budget = budget or budgets()
    size = folder_bytes(run_path)
    out = []
    files = snapshot_files(run_path)
    for epoch, path in list(files.items())[:-1]:   # oldest first; the newest stays
        if size <= budget.run_bytes:
            break
        freed = drop_snapshot(path, epoch, run_reason(budget))
        size -= freed
        out += [epoch] if freed else []
    return out


def run_folders(root: Path) -> list[Path]:
    """Run folders under `root`, oldest first: by when config.json was written (once, as the run
    was created; two runs of one second have the same time in their ids), then by id."""
    if not root.is_dir():
        return []
    def created(path: Path) -> tuple[int, str]:
        try:
            return (path / "config.json").stat().st_mtime_ns, path.name
        except OSError:
            return 0, path.name
    return sorted((p for p in root.iterdir() if p.is_dir() and not p.name.startswith(HIDDEN_PREFIX)
                   and RUN_ID_PATTERN.fullmatch(p.name)), key=created)


def enforce_total(root: Path, budget: Budgets | None = None) -> list[tuple[str, int]]:
    """Drop snapshots of the oldest runs first (each run's oldest first, never its newest)
    until the folder fits its budget; (run id, epoch) of each one dropped."""
    budget = budget or budgets()
    folders = run_folders(root)
    sizes = {p: folder_bytes(p) for p in folders}
    total = sum(sizes.values())
    out = []
    for folder in folders:
        if total <= budget.runs_bytes:
            break
        for epoch, path in list(snapshot_files(folder).items())[:-1]:
            if total <= budget.runs_bytes:
                break
            freed = drop_snapshot(path, epoch, runs_reason(budget))
            total -= freed
            out += [(folder.name, epoch)] if freed else []
    return out


def total_bytes(root: Path) -> int:
    return sum(folder_bytes(p) for p in run_folders(root))
