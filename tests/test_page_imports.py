"""The page process stays torch-free for Home and the Train page (issue 16: a fresh server
shows them in seconds; torch + PyG take 5-25 s to import), and the graph's summary the Train
page shows comes from a helper process."""
from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

from argae_core.config import TrainConfig
from argae_core.graph_info import SummaryService, data_part

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("torch", "torch_geometric", "sklearn", "umap", "numba")


def top_level_imports(path: Path) -> list[str]:
    """The modules a page file imports at module level (what its first run pays for)."""
    names = []
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names += [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
    return names


def heavy_after_importing(modules: list[str]) -> list[str]:
    script = ("import importlib, json, sys\n"
              f"for name in {modules!r}:\n"
              "    try:\n        importlib.import_module(name)\n"
              "    except ModuleNotFoundError:\n        pass  # `from x import name` of a non-module\n"
              f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_home_train_and_the_app_import_no_torch():
    modules = ["pages"]  # app.py itself runs Streamlit calls: its imports instead
    for page in ("app.py", "pages/home.py", "pages/train.py"):
        modules += top_level_imports(ROOT / page)
    modules += ["pages.common", "argae_core.graph_info"]
    assert "pages.common" in modules and "argae_core.runs" in " ".join(modules)
    assert heavy_after_importing(modules) == []


def test_the_check_sees_torch_when_a_page_imports_it():
    assert "torch" in heavy_after_importing(["argae_core.data"])


def test_summaries_come_from_a_helper_process_without_torch_here():
    script = (
        "import json, sys\n"
        "from argae_core.config import TrainConfig\n"
        "from argae_core.graph_info import SummaryService\n"
        "service = SummaryService()\n"
        "answers = [service.wait(TrainConfig(dataset=d), timeout=300) for d in ('karate', 'nope')]\n"
        "print(json.dumps({'answers': answers, 'torch': 'torch' in sys.modules}))\n"
        "service.shutdown()\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    (karate_state, karate), (bad_state, message) = result["answers"]
    assert karate_state == "ready" and (karate["nodes"], karate["name"]) == (34, "KarateClub")
    assert karate["edges"] > 0 and karate["notes"]
    assert bad_state == "error" and "nope" in message
    assert result["torch"] is False


def test_a_summary_is_keyed_by_the_data_settings_only():
    a, b = TrainConfig(dataset="cora", epochs=10), TrainConfig(dataset="cora", epochs=300, model="gae")
    assert data_part(a) == data_part(b)
    assert data_part(TrainConfig(dataset="planted", seed=1)) != data_part(TrainConfig(dataset="planted", seed=2))
    assert data_part(TrainConfig(dataset="karate", seed=1)) == data_part(TrainConfig(dataset="karate", seed=2))
