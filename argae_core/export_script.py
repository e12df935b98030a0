"""Take a run home: one standalone Python script that retrains a saved run and prints its
test AUC / AP. It needs torch and torch_geometric only (numpy comes with torch; PyG's own
`GAE.test` uses scikit-learn, which PyG's install brings).

The script is generated from the engine's own source, not from a second copy of the math:
`config.py`, `graph.py`, `records.py`, `steering.py`, `models.py`, `sampling.py` and `training.py`
are pasted verbatim (their relative imports dropped, each followed by a namespace of its names,
so `steering.apply` still reads as in the engine), with the few pieces of `data.py` the trainer
needs. A change to the trainer (a faster discriminator step, another negative sampler) is in the next export
without anyone editing a template. What the script adds by hand is only the run itself:

    RUN     the config, the steering history, the graph's size, the numbers the run reported
    SPLIT   the run's edge split (train / validation / test edges and non-edges), embedded as
            torch.save bytes, zlib-compressed, base64: the same split whatever PyG version
            the reader has (RandomLinkSplit's draws may change between versions)
    graph   KarateClub and Planetoid from torch_geometric.datasets; a planted-partition or
            uploaded graph embedded (refused above EMBED_LIMIT_BYTES, with a message)

Same seed, same split, same knobs, same steering, same code: on the same machine and thread
count the script's epochs are the run's epochs, float for float (tests/test_export_script.py).
"""
from __future__ import annotations

import ast
import base64
import io
import json
import zlib
from pathlib import Path

import torch

from .config import TrainConfig
from .data import PLANETOID, load_graph, split_edges

PACKAGE_DIR = Path(__file__).resolve().parent
PASTED_MODULES = ("config", "devices", "snapshots", "graph", "records", "steering", "dense", "models", "sampling",
                  "training")
DATA_NAMES = ("_from_pyg", "_clean_edges")
DATA_IMPORTS = ("from dataclasses import dataclass, field", "import torch", "from torch_geometric.data import Data",
                "from torch_geometric.utils import coalesce, degree, remove_self_loops, to_undirected")
EMBED_LIMIT_BYTES = 16 * 2**20  # tensors carried in a script (split; planted / uploaded graph), before compression


class ExportError(RuntimeError):
    """A run that cannot be exported as a script; the message says why."""


# ------------------------------------------------------------------ engine source
def _top_level(source: str) -> ast.Module:
    return ast.parse(source)


def module_source(name: str) -> tuple[str, list[str]]:
    """The module's source without its docstring, `from __future__` and relative imports,
    and the names it defines at top level."""
    source = (PACKAGE_DIR / f"{name}.py").read_text(encoding="utf-8")
    tree = _top_level(source)
    lines = source.splitlines()
    drop: set[int] = set()
    names: list[str] = []
    for i, node in enumerate(tree.body):
        docstring = i == 0 and isinstance(node, ast.Expr) and isinstance(getattr(node, "value", None), ast.Constant)
        relative = isinstance(node, ast.ImportFrom) and (node.level > 0 or node.module == "__future__")
        if docstring or relative:
            drop.update(range(node.lineno - 1, node.end_lineno))
        names += _defined(node)
    return "\n".join(line for n, line in enumerate(lines) if n not in drop).strip() + "\n", names


def _defined(node: ast.stmt) -> list[str]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [node.name]
    if isinstance(node, ast.Assign):
        targets = [e for t in node.targets for e in (t.elts if isinstance(t, ast.Tuple) else [t])]
        return [t.id for t in targets if isinstance(t, ast.Name)]
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return [node.target.id]
    return []


def data_source() -> tuple[str, list[str]]:
    """The pieces of data.py that build a `Graph` from a PyG dataset and set its features."""
    source = (PACKAGE_DIR / "data.py").read_text(encoding="utf-8")
    parts, names = list(DATA_IMPORTS), []
    for node in _top_level(source).body:
        defined = _defined(node)
        if defined and defined[0] in DATA_NAMES:
            start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
            parts.append("\n".join(source.splitlines()[start - 1:node.end_lineno]))
            names += defined
    missing = set(DATA_NAMES) - set(names)
    if missing:
        raise ExportError(f"data.py no longer defines {', '.join(sorted(missing))}: the exporter needs updating")
    return "\n\n\n".join(parts) + "\n", names


def engine_source() -> str:
    """Every pasted part, in order, each under a heading and followed by its namespace."""
    sections, seen = [], {}
    parts = [(name, *module_source(name)) for name in PASTED_MODULES]
    at = PASTED_MODULES.index("graph") + 1          # data's pieces build a Graph: after graph.py
    parts.insert(at, ("data", *data_source()))
    for name, source, names in parts:
        clashes = {n for n in names if n in seen and n not in ("annotations",)}
        if clashes:
            raise ExportError(f"{name}.py and {seen[next(iter(clashes))]}.py both define "
                              f"{', '.join(sorted(clashes))}: the exporter needs updating")
        seen.update({n: name for n in names})
        namespace = f"{name} = types.SimpleNamespace(**{{n: globals()[n] for n in {sorted(names)!r}}})"
        sections.append(f"# {'=' * 70}\n# argae_core/{name}.py (verbatim; relative imports dropped)\n"
                        f"# {'=' * 70}\n{source}\n{namespace}\n")
    return "\n\n".join(sections)


# ------------------------------------------------------------------ the run
def is_builtin(dataset: str) -> bool:
    return dataset == "karate" or dataset in PLANETOID


def size_problem(dataset: str, nodes: int, edges: int, features: int) -> str | None:
    """Why a run's script would be too big to carry its tensors, or None. The split's edge
    lists always travel (int64: about 4 x 16 bytes per undirected edge); a planted or uploaded
    graph also carries its features (float32) and edges."""
    size = 4 * 16 * edges + (0 if is_builtin(dataset) else 4 * nodes * features + 2 * 16 * edges)
    if size <= EMBED_LIMIT_BYTES:
        return None
    return (f"a script for this graph ({nodes:,} nodes, {edges:,} edges, {features:,} features) would carry "
            f"{size / 2**20:.0f} MB of tensors, over the {EMBED_LIMIT_BYTES // 2**20} MB limit; download the "
            "run's files (zip) instead")


def _blob(tensors: dict[str, torch.Tensor]) -> str:
    buffer = io.BytesIO()
    torch.save(tensors, buffer)
    return base64.b64encode(zlib.compress(buffer.getvalue(), 9)).decode("ascii")


def _wrapped(text: str, width: int = 100) -> str:
    return "(\n" + "\n".join(f"    {text[i:i + width]!r}" for i in range(0, len(text), width)) + "\n)"


def run_spec(config: TrainConfig, history: list[dict], metrics: dict | None, run_id: str) -> tuple[dict, str]:
    """(RUN, the embedded blob): what the script needs to know about the run."""
    graph = load_graph(config)
    too_big = size_problem(config.dataset, graph.num_nodes, graph.num_edges, graph.num_features)
    if too_big:
        raise ExportError(too_big)
    split = split_edges(graph, config.seed)
    tensors = {"train_edge_index": split.train_edge_index, "val_pos": split.val_pos, "val_neg": split.val_neg,
               "test_pos": split.test_pos, "test_neg": split.test_neg}
    builtin = is_builtin(config.dataset)
    if not builtin:   # planted partition or upload: the graph travels in the script
        tensors.update({"x": graph.x, "edge_index": graph.edge_index}, **({"y": graph.y} if graph.y is not None else {}))
    blob = _blob(tensors)
    raw_config = config.to_dict()
    if not builtin:   # the embedded graph already holds its features
        raw_config["features"] = "raw"
    spec = {"run_id": run_id, "config": raw_config, "steering": history, "source": config.dataset
            if builtin else "embedded", "graph_name": graph.name, "nodes": graph.num_nodes,
            "edges": graph.num_edges,
            "reported": {k: (metrics or {}).get(k) for k in ("test_auc", "test_ap", "best_epoch", "sampler",
                                                              "dense_products")}}
    return spec, blob


def build_script(config: TrainConfig, history: list[dict], metrics: dict | None = None, run_id: str = "run") -> str:
    spec, blob = run_spec(config, history, metrics, run_id)
    head = HEADER.format(run_id=run_id, model=config.model.upper(), graph=spec["graph_name"],
                         steered=(f"steered at epochs {', '.join(str(e['epoch']) for e in history)}"
                                  if history else "not steered"))
    return (head + engine_source() + "\n\n" + f"RUN = json.loads({json.dumps(json.dumps(spec))})\n"
            + f"SPLIT = {_wrapped(blob)}\n" + MAIN)


def script_or_reason(run_id: str, root=None) -> bytes:
    """For a download button (its file is built when clicked, too late for a message on the
    page): the script, or a script that only says why there is none."""
    from .runs import RunError
    try:
        return export_script(run_id, root)
    except (ExportError, RunError) as exc:
        return f"raise SystemExit({f'No script for run {run_id}: {exc}'!r})\n".encode()


def export_script(run_id: str, root=None) -> bytes:
    """The script for a saved run (runs.load_run), as bytes to download; ExportError or RunError."""
    from .runs import load_run
    from .data import DatasetUnavailable
    run = load_run(run_id, root)
    try:
        return build_script(run.config, run.steering, run.metrics, run.run_id).encode()
    except DatasetUnavailable as exc:
        raise ExportError(f"the run's graph cannot be loaded here to export its split: {exc}") from None


HEADER = '''"""Retrain ARGAE Lab run {run_id}: {model} on {graph}, {steered}.

    python this_file.py [--root FOLDER] [--json]

Needs torch and torch_geometric (pip install torch torch_geometric). Planetoid datasets
(Cora, CiteSeer, PubMed) are read from (or downloaded into) FOLDER/Planetoid/<Name>.
The run's edge split is embedded below, so the test edges are the run's test edges. On the
machine and thread count the run trained with, every epoch matches the run's; elsewhere
float rounding can move the scores in their last digits.

Generated by `python -m argae_core export-script {run_id}` from the engine's own source.
"""
from __future__ import annotations

import argparse
import base64
import io
import sys
import types
import zlib

'''

MAIN = '''

class ExportedTrainer(Trainer):
    """The engine's trainer; only the final evaluation is cut down to test link prediction."""

    def final_metrics(self) -> dict:
        if self._best_state is not None:
            self.model.load_state_dict(self._best_state)
        auc, ap = self.model.test(self.embed(), *self.test_edges)
        return {"test_auc": float(auc), "test_ap": float(ap), "best_epoch": self.best_epoch or self.epoch,
                "epochs_run": self.epoch}


def load_run_graph(root: str) -> tuple[Graph, Split]:
    arrays = torch.load(io.BytesIO(zlib.decompress(base64.b64decode(SPLIT))), weights_only=True)
    source = RUN["source"]
    if source == "karate":
        from torch_geometric.datasets import KarateClub
        graph = _from_pyg("KarateClub", KarateClub()[0])
    elif source == "embedded":
        graph = Graph(RUN["graph_name"], arrays["x"], arrays["edge_index"], arrays.get("y"))
    else:
        from torch_geometric.datasets import Planetoid
        name = {"cora": "Cora", "citeseer": "CiteSeer", "pubmed": "PubMed"}[source]
        graph = _from_pyg(name, Planetoid(f"{root}/Planetoid", name)[0])
    if (graph.num_nodes, graph.num_edges) != (RUN["nodes"], RUN["edges"]):
        sys.exit(f"{graph.name} here has {graph.num_nodes} nodes and {graph.num_edges} edges; the run's had "
                 f"{RUN['nodes']} and {RUN['edges']}: not the same graph, so its split does not apply.")
    graph = apply_features(graph, RUN["config"]["features"])
    split = Split(*(arrays[k] for k in ("train_edge_index", "val_pos", "val_neg", "test_pos", "test_neg")))
    return graph, split


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default="data", help="folder holding Planetoid/<Name> [data]")
    parser.add_argument("--json", action="store_true", help="print one JSON object (scores, losses per epoch)")
    args = parser.parse_args()
    config = TrainConfig.from_dict(RUN["config"]).validate()
    graph, split = load_run_graph(args.root)
    dense.pin(RUN["reported"].get("dense_products"))  # MKL or oneDNN per product, as the run chose
    trainer = ExportedTrainer(config, graph, split, plan=RUN["steering"])
    ran_by = RUN["reported"].get("sampler")
    if ran_by and trainer.sampler != ran_by:   # e.g. PyG's loader there, no torch-sparse / pyg-lib here
        print(f"note: the run was trained sampled by {ran_by}; here the batches come from {trainer.sampler}, "
              "so its epochs and scores will differ from the run's", file=sys.stderr)
    every = max(1, config.epochs // 10)
    for record in trainer:
        if not args.json and (record.epoch % every == 0 or record.epoch == config.epochs):
            print(f"epoch {record.epoch:5d}  encoder loss {record.encoder_loss:.4f}", file=sys.stderr)
    for entry in trainer.steering:
        if not args.json:
            print("steered: " + steering.describe(entry), file=sys.stderr)
    result = trainer.final_metrics()
    if args.json:
        print(json.dumps({**result, "encoder_loss": [h["encoder_loss"] for h in trainer.history],
                          "steering": trainer.steering}))
        return
    reported = RUN["reported"]
    print(f"test AUC {result['test_auc']:.4f}   test AP {result['test_ap']:.4f}   "
          f"(epoch {result['best_epoch']}, the best validation AUC)")
    if reported.get("test_auc") is not None:
        print(f"the run reported AUC {reported['test_auc']:.4f}, AP {reported['test_ap']:.4f} "
              f"(epoch {reported['best_epoch']})")


if __name__ == "__main__":
    main()
'''
