"""Property-based tests (Hypothesis) of three contracts:

- upload bytes become a Graph whose counts match the file, or an UploadError naming the file;
- config dicts (and their JSON and URL forms) become a TrainConfig, or a ConfigError naming
  the fields, and a built config's problems() never raises;
- a damaged run folder never breaks the listing, and load_run and the exports raise only
  RunError.

Example counts stay modest so the suite stays fast; a failure prints the smallest example."""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from argae_core import runs
from argae_core.config import FIELDS, ConfigError, TrainConfig
from argae_core.training import Trainer
from argae_core.uploads import UploadError, parse_upload

SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


pytestmark = pytest.mark.usefixtures("one_thread")


# ------------------------------------------------------------------------ uploads
IDS = st.one_of(st.integers(0, 40).map(str), st.integers(0, 40).map(lambda i: f"n{i}"))
AWKWARD_TEXT = st.text(st.sampled_from(list('ab1 ,;\t"#%[]{}\n\r-=.é\u200b\x01\x00')), max_size=300)


@st.composite
def edge_files(draw):
    """(bytes, pairs written, header written) of a well-formed edge list."""
    # a ring with chords (enough edges to split) among random extra pairs, in any order
    ring = [(f"n{i}", f"n{(i + 1) % 30}") for i in range(30)] + [(f"n{i}", f"n{(i + 7) % 30}") for i in range(30)]
    extra = draw(st.lists(st.tuples(IDS, IDS), max_size=40))
    pairs = draw(st.permutations(ring + extra)) if draw(st.booleans()) else extra + ring
    sep = draw(st.sampled_from([",", "\t", " ", ";"]))
    header = draw(st.sampled_from([None, ("source", "target"), ("src", "dst")]))
    end = draw(st.sampled_from(["\n", "\r\n"]))
    rows = ([sep.join(header)] if header else []) + [f"{a}{sep}{b}" for a, b in pairs]
    return (end.join(rows) + end).encode(), pairs, header


def undirected(pairs) -> tuple[int, int]:
    """(nodes, undirected edges without loops or repeats) of the pairs."""
    nodes = {node for pair in pairs for node in pair}
    return len(nodes), len({frozenset(pair) for pair in pairs if pair[0] != pair[1]})


@SETTINGS
@given(edge_files())
def test_a_well_formed_edge_list_gives_its_counts_or_a_named_refusal(file):
    data, pairs, header = file
    try:
        parsed = parse_upload(data)
    except UploadError as error:
        assert error.file == "edges" and error.message
        return
    report = parsed.report
    if header is None and report["files"]["edges"]["header"] is not None:
        # a first line of names seen nowhere else is read as a header; the warning says so
        assert any("read as a header" in w for w in report["warnings"])
        pairs = pairs[1:]
    assert (report["nodes"], report["edges"]) == undirected(pairs)
    assert (parsed.graph.num_nodes, parsed.graph.num_edges) == undirected(pairs)


@SETTINGS
@given(st.one_of(st.binary(max_size=400), AWKWARD_TEXT.map(str.encode)))
def test_any_bytes_give_a_consistent_graph_or_an_upload_error(data):
    try:
        parsed = parse_upload(data)
    except UploadError as error:
        assert error.file == "edges" and error.message
        assert error.line is None or error.line >= 1
        return
    graph, report = parsed.graph, parsed.report
    assert (report["nodes"], report["edges"]) == (graph.num_nodes, graph.num_edges)
    assert len(graph.node_ids) == graph.num_nodes == len(set(graph.node_ids))
    assert graph.edge_index.numel() == 0 or int(graph.edge_index.max()) < graph.num_nodes


@SETTINGS
@given(st.lists(IDS, min_size=1, max_size=30), AWKWARD_TEXT)
def test_labels_and_features_files_are_read_or_refused_by_name(ids, text):
    ring = "".join(f"r{i},r{(i + 1) % 30}\nr{i},r{(i + 7) % 30}\n" for i in range(30)).encode()
    for kind in ("features", "labels"):
        try:
            parse_upload(ring, **{kind: text.encode()})
        except UploadError as error:
            assert error.file == kind and error.message


# ------------------------------------------------------------------------- config
JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.integers(-10**400, 10**400),
              st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)),
    max_leaves=5)
KEYS = st.one_of(st.sampled_from(sorted(FIELDS)), st.text(max_size=10))
PLAUSIBLE = {name: st.one_of(st.just(f.default), JSON_VALUES) if f.metadata["choices"] is None
             else st.one_of(st.sampled_from(f.metadata["choices"]), JSON_VALUES)
             for name, f in FIELDS.items()}


@st.composite
def config_dicts(draw):
    values = draw(st.dictionaries(KEYS, JSON_VALUES, max_size=6))
    for name in draw(st.lists(st.sampled_from(sorted(FIELDS)), max_size=6)):
        values[name] = draw(PLAUSIBLE[name])
    return values


def assert_contract(build, allowed: set[str]):
    """build() gives a config whose problems() does not raise, or a ConfigError naming
    only `allowed` fields."""
    try:
        config = build()
    except ConfigError as error:
        assert error.problems and set(error.problems) <= allowed, (error.problems, allowed)
        return None
    problems = config.problems()
    assert set(problems) <= set(FIELDS)
    return config


@SETTINGS
@given(config_dicts())
def test_any_settings_dict_gives_a_config_or_a_config_error_naming_fields(values):
    named = {str(k)[:60] for k in values} | {"settings"}
    allowed = {k for k in named} | {k[:40] + "..." for k in named}
    config = assert_contract(lambda: TrainConfig.from_dict(values), allowed | set(FIELDS))
    if config is not None:
        assert_contract(config.validate, set(FIELDS))
    try:
        text = json.dumps(values, allow_nan=True)
    except (ValueError, TypeError):
        return
    assert_contract(lambda: TrainConfig.from_json(text).validate(), allowed | set(FIELDS) | {"json"})


@SETTINGS
@given(st.dictionaries(st.sampled_from(sorted(FIELDS)), st.text(max_size=12), max_size=6))
def test_any_url_query_gives_a_valid_config_or_a_config_error(query):
    config = assert_contract(lambda: TrainConfig.from_query(query), set(FIELDS))
    if config is not None:
        assert config.problems() == {}


@SETTINGS
@given(st.builds(TrainConfig, **{name: st.one_of(st.none(), JSON_VALUES) for name in FIELDS}))
def test_problems_of_a_config_built_with_any_values_never_raise(config):
    assert set(config.problems()) <= {f.name for f in dataclasses.fields(TrainConfig)}


# --------------------------------------------------------------- damaged run folders
@pytest.fixture(scope="module")
def saved_run(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("property-runs")
    config = TrainConfig(dataset="karate", model="argva", epochs=6, eval_interval=2, snapshot_interval=3,
                         latent_size=4, encoder_hidden=8, discriminator_hidden=8)
    trainer = Trainer(config)
    writer = runs.RunWriter(config, trainer.graph, root=root)
    for _ in runs.record_run(trainer, writer):
        pass
    return writer.path


def damage(folder: Path, file: str, kind: str, payload) -> None:
    path = folder / file
    if kind == "delete":
        path.unlink(missing_ok=True)
    elif kind == "bytes":
        path.write_bytes(payload)
    elif kind == "truncate" and path.is_file():
        data = path.read_bytes()
        path.write_bytes(data[: len(data) * payload // 100])
    elif kind == "json":
        path.write_text(json.dumps(payload, allow_nan=True))
    elif kind == "json field" and path.suffix == ".json" and path.is_file():
        values = json.loads(path.read_text())  # still the saved file: damages come one per file
        which, value = payload
        key = sorted(values)[which % len(values)]
        path.write_text(json.dumps({**values, key: value}, allow_nan=True))
    elif kind == "link":
        path.unlink(missing_ok=True)
        os.symlink("/etc/passwd", path)
    elif kind == "folder":
        path.unlink(missing_ok=True)
        path.mkdir()


RUN_FILES = ["status.json", "config.json", "graph.json", "graph.npz", "records.csv", "metrics.json",
             "embedding.npz", "model.pt", "snapshots/epoch_00003.npz"]
PAYLOADS = {"delete": st.none(), "bytes": st.binary(max_size=200), "truncate": st.integers(0, 99),
            "json": JSON_VALUES, "json field": st.tuples(st.integers(0, 50), JSON_VALUES),
            "link": st.none(), "folder": st.none()}
DAMAGE = st.sampled_from(sorted(PAYLOADS)).flatmap(
    lambda kind: st.tuples(st.sampled_from(RUN_FILES), st.just(kind), PAYLOADS[kind]))
DAMAGES = st.lists(DAMAGE, min_size=1, max_size=3, unique_by=lambda d: d[0])


def only_run_errors(action) -> None:
    try:
        action()
    except runs.RunError:
        pass


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(DAMAGES)
def test_a_damaged_run_never_breaks_the_listing_and_loads_or_raises_run_error(saved_run, damages):
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        shutil.copytree(saved_run, root / saved_run.name)
        shutil.copytree(saved_run, root / "intact")
        for file, kind, payload in damages:
            damage(root / saved_run.name, file, kind, payload)
        summaries, warnings = runs.list_runs(root)
        listed = {s.run_id for s in summaries}
        assert "intact" in listed
        assert saved_run.name in listed or any(w.startswith(saved_run.name) for w in warnings)
        try:
            run = runs.load_run(saved_run.name, root)
        except runs.RunError:
            return
        for epoch in run.snapshot_epochs:
            only_run_errors(lambda: run.snapshot(epoch))
        only_run_errors(run.state_dict)
        for export in (runs.export_records_csv, runs.export_config_json, runs.export_zip,
                       lambda i, r: runs.export_embeddings(i, r, fmt="csv"), runs.export_embeddings):
            only_run_errors(lambda: export(saved_run.name, root))
