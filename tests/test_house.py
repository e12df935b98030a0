"""The engine's shape: no import cycle among its modules, and the modules that promise to be
torch-free (listing and reading saved runs, configs, storage) really are."""
import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from argae_core.config import TrainConfig

PROJECT = Path(__file__).resolve().parent.parent
ENGINE = PROJECT / "argae_core"
TORCH_FREE = ("argae_core.config", "argae_core.storage", "argae_core.records", "argae_core.runs",
              "argae_core.compare", "argae_core.presets", "argae_core.paper", "argae_core.status",
              "argae_core.events", "argae_core.sweep")


def module_name(path: Path) -> str:
    parts = path.relative_to(PROJECT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def engine_modules() -> dict[str, Path]:
    return {module_name(path): path for path in ENGINE.rglob("*.py")}


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Engine modules `path` imports, at the top or inside functions (lazy imports count).
    `from .pkg import sub` names the submodule when it is one, else the package."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.add(sub if sub in modules else target)
    return {m for m in found if m in modules and m != name}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of `graph` as a list of nodes, or None (depth-first search, three colours)."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_the_import_walker_sees_lazy_and_relative_imports():
    modules = engine_modules()
    data = imports_of("argae_core.data", modules["argae_core.data"], modules)
    assert {"argae_core.graph", "argae_core.config", "argae_core.uploads"} <= data  # uploads: inside a function
    assert "argae_core.training" in imports_of("argae_core.jobs.worker", modules["argae_core.jobs.worker"], modules)


def test_no_import_cycle_among_engine_modules():
    modules = engine_modules()
    graph = {name: imports_of(name, path, modules) for name, path in modules.items()}
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_uploads_stand_on_graph_not_on_data():
    modules = engine_modules()
    for name, path in modules.items():
        if name.startswith("argae_core.uploads"):
            assert "argae_core.data" not in imports_of(name, path, modules), name


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory):
    """A small saved run (12 KarateClub epochs), to be read back without torch."""
    from argae_core.runs import RunWriter, record_run
    from argae_core.training import Trainer
    root = tmp_path_factory.mktemp("runs")
    config = TrainConfig(dataset="karate", model="argva", epochs=6, eval_interval=3, snapshot_interval=5)
    trainer = Trainer(config)
    writer = RunWriter(config, trainer.graph, root=root)
    list(record_run(trainer, writer))
    RunWriter(config, trainer.graph, root=root)  # a run with no epochs yet: empty records
    return root, writer.run_id


def test_torch_free_modules_do_not_import_torch(saved_run):
    root, run_id = saved_run
    script = textwrap.dedent(f"""
        import sys
        for name in {TORCH_FREE!r}:
            __import__(name)
        from argae_core import runs
        summaries, warnings = runs.list_runs({str(root)!r})
        assert len(summaries) == 2 and not warnings, (summaries, warnings)
        for summary in summaries:
            run = runs.load_run(summary.run_id, {str(root)!r})
            assert "epoch" in run.records.columns
        run = runs.load_run({run_id!r}, {str(root)!r})
        assert len(run.records) == 6 and run.snapshot_epochs == [1, 5, 6]
        assert run.discriminator_weights(5)
        runs.export_records_csv({run_id!r}, {str(root)!r})
        runs.export_embeddings({run_id!r}, {str(root)!r}, fmt="csv")
        runs.export_zip({run_id!r}, {str(root)!r})
        assert "torch" not in sys.modules, "torch was imported"
        print("ok")
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=PROJECT, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_statuses_read_and_write_as_plain_strings():
    import json
    from argae_core.status import ACTIVE, FINAL, Status
    assert Status.RUNNING == "running" and f"{Status.FAILED}" == "failed"
    assert json.loads(json.dumps({"status": Status.STOPPED})) == {"status": "stopped"}
    assert Status.of("finished") is Status.FINISHED and Status.of("nonsense") is None
    assert "paused" in ACTIVE and "diverged" in FINAL and not set(ACTIVE) & set(FINAL)


def test_events_survive_pickling_as_queues_send_them():
    import pickle
    import numpy as np
    from argae_core import events
    sent = [events.Ready(12), events.Started("j", "run-1", {"name": "g"}),
            events.Record("j", {"epoch": 1}, np.ones((3, 2)), np.zeros(3)), events.Paused("j", True),
            events.Phase("j", {"phase": "encoder"}), events.Done("j", "finished", {"test_auc": 0.9}),
            events.Failed("j", "no graph"), events.Idle("j", 0)]
    for event in sent:
        back = pickle.loads(pickle.dumps(event))
        assert type(back) is type(event) and back.job_id == event.job_id
    assert np.array_equal(pickle.loads(pickle.dumps(sent[2])).z, np.ones((3, 2)))


def test_importing_every_engine_module_needs_no_ray():
    """ray is optional (requirements-cluster.txt): no engine module imports it at import time,
    ray_jobs included (it imports ray on first use)."""
    modules = sorted("argae_core." + ".".join(p.relative_to(PROJECT / "argae_core").with_suffix("").parts)
                     for p in (PROJECT / "argae_core").rglob("*.py")
                     if p.name not in ("__init__.py", "__main__.py"))
    script = ("import importlib, sys\n"
              f"for name in {modules!r}:\n    importlib.import_module(name)\n"
              "print(sorted(m for m in sys.modules if m == 'ray' or m.startswith('ray.')))")
    done = subprocess.run([sys.executable, "-c", script], cwd=PROJECT, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
