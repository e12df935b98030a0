"""examples/notebook.ipynb: every code cell runs, in order, in one namespace, as a notebook
kernel would, and gives what its text promises."""
from __future__ import annotations

import ast
import json
from pathlib import Path

NOTEBOOK = Path(__file__).resolve().parent.parent / "examples" / "notebook.ipynb"


def run_cells(path: Path) -> tuple[dict, list]:
    """Execute the code cells; returns the namespace and each cell's last expression value."""
    notebook = json.loads(path.read_text())
    namespace: dict = {"__name__": "__main__"}
    shown = []
    for cell in notebook["cells"]:
        if cell["cell_type"] != "code":
            continue
        tree = ast.parse("".join(cell["source"]))
        last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        exec(compile(tree, str(path), "exec"), namespace)
        shown.append(eval(compile(ast.Expression(last.value), str(path), "eval"), namespace)
                     if last is not None else None)
    return namespace, shown


def test_the_notebook_is_stored_clean():
    notebook = json.loads(NOTEBOOK.read_text())
    assert notebook["nbformat"] == 4
    for cell in notebook["cells"]:
        assert "id" in cell
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None  # no stale results in git


def test_the_notebook_runs_and_shows_what_it_says():
    namespace, shown = run_cells(NOTEBOOK)
    count, tail, losses, scores, picture = shown
    assert count == 100 == len(namespace["records"])
    assert list(tail.columns) == ["epoch", "encoder_loss", "discriminator_loss", "d_real", "d_fake", "val_auc"]
    assert tail["epoch"].tolist() == [96, 97, 98, 99, 100]
    assert {trace.name for trace in losses.data} == {"encoder_loss", "discriminator_loss"}
    assert len(losses.data[0].x) == 100
    assert set(scores) == {"test_auc", "test_ap", "z_std", "c2st"}
    assert all(0.0 <= scores[k] <= 1.0 for k in ("test_auc", "test_ap", "c2st"))
    assert scores["z_std"] > 0
    assert {trace.name for trace in picture.data} == {"Z", "N(0, I) sample"}
    assert sum(len(trace.x) for trace in picture.data) == 2 * 34  # KarateClub: 34 nodes, as many samples
