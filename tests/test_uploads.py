"""Uploaded graphs: happy paths, one test per bad-input case, storage and training on an upload."""
import itertools
import json

import numpy as np
import pytest
import torch

from argae_core.config import TrainConfig
from argae_core.data import DatasetUnavailable, load_graph, split_edges
from argae_core.training import Trainer
from argae_core.uploads import (DEFAULT_MAX_BYTES, IDENTITY_UPLOAD_LIMIT, MIN_SPLIT_EDGES,
                                UploadError, both_directions, load_upload, parse_upload,
                                save_upload)


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ARGAE_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def ring_pairs(n=30, chord=7):
    """A ring with chords: 2n distinct undirected edges, one component."""
    return [(i, (i + 1) % n) for i in range(n)] + [(i, (i + chord) % n) for i in range(n)]


def edge_text(pairs, sep=",", header=None, name=str):
    lines = [sep.join(header)] if header else []
    lines += [f"{name(a)}{sep}{name(b)}" for a, b in pairs]
    return "\n".join(lines) + "\n"


def refuse(*args, **kwargs) -> UploadError:
    with pytest.raises(UploadError) as info:
        parse_upload(*args, **kwargs)
    return info.value


# ------------------------------------------------------------------ happy paths
def test_csv_with_header_reads_the_graph_and_reports_it():
    parsed = parse_upload(edge_text(ring_pairs(), header=["source", "target"]).encode())
    report, graph = parsed.report, parsed.graph
    assert report["files"]["edges"] == {"encoding": "UTF-8", "delimiter": "comma",
                                        "header": ["source", "target"]}
    assert (report["nodes"], report["edges"], report["components"], report["isolated_nodes"]) == (30, 60, 1, 0)
    assert graph.node_ids == [str(i) for i in range(30)]
    assert graph.edge_index.shape == (2, 120)
    assert graph.y is None and report["classes"] == 0
    # both directions, no self-loops, no repeats
    pairs = set(map(tuple, graph.edge_index.t().tolist()))
    assert len(pairs) == 120 and all((b, a) in pairs for a, b in pairs) and all(a != b for a, b in pairs)


def test_numeric_header_free_file_is_not_mistaken_for_a_header():
    parsed = parse_upload(edge_text(ring_pairs()).encode())
    assert parsed.report["files"]["edges"]["header"] is None
    assert parsed.report["edges"] == 60


def test_tsv_with_string_ids_keeps_names_in_order_of_appearance():
    names = lambda i: f"person {29 - i}"  # spaces inside names are fine in a TSV
    parsed = parse_upload(edge_text(ring_pairs(), sep="\t", name=names).encode())
    assert parsed.report["files"]["edges"]["delimiter"] == "tab"
    assert parsed.graph.node_ids[:3] == ["person 29", "person 28", "person 27"]
    assert parsed.report["nodes"] == 30


def test_whitespace_file_with_crlf_bom_comments_and_blank_lines():
    body = edge_text(ring_pairs(), sep="   ").replace("\n", "\r\n")
    text = "# a SNAP-style comment\r\n% a KONECT-style comment\r\n\r\n" + body + "\r\n\r\n"
    parsed = parse_upload(b"\xef\xbb\xbf" + text.encode())
    assert parsed.report["files"]["edges"]["delimiter"] == "whitespace"
    assert parsed.report["nodes"] == 30 and parsed.report["edges"] == 60
    assert parsed.graph.node_ids[0] == "0"  # the BOM is not part of the first id


def test_integer_ids_are_sorted_numerically():
    pairs = [(a + 5, b + 5) for a, b in ring_pairs(25)]
    parsed = parse_upload(edge_text(pairs).encode())
    assert parsed.graph.node_ids == [str(i) for i in range(5, 30)]


def test_a_header_with_digits_is_told_from_data_by_the_ids_that_follow():
    name = lambda i: f"node{i}"
    data = parse_upload(edge_text(ring_pairs(), name=name).encode())  # first line is an edge
    assert data.report["files"]["edges"]["header"] is None and data.report["edges"] == 60
    named = parse_upload(edge_text(ring_pairs(), header=["Node1", "Node2"],
                                   name=lambda i: f"p{i}").encode())
    assert named.report["files"]["edges"]["header"] == ["Node1", "Node2"]
    assert "Node1" not in named.graph.node_ids


def test_ids_that_look_like_missing_values_stay_ids():
    names = ["nan", "None", "NA", "null", ""] + [f"x{i}" for i in range(25)]
    parsed = parse_upload(edge_text(ring_pairs(), sep="\t", name=lambda i: names[i] or "-").encode())
    assert parsed.graph.node_ids[:4] == ["nan", "None", "NA", "null"]
    assert parsed.report["nodes"] == 30


def test_a_pandas_style_features_header_with_an_empty_first_cell():
    features = ",0,1\n" + "".join(f"{i},{i},1\n" for i in range(30))
    parsed = parse_upload(edge_text(ring_pairs()).encode(), features.encode())
    assert parsed.report["files"]["features"]["header"] == ["", "0", "1"]
    assert parsed.graph.x[5].tolist() == [5.0, 1.0]


def test_quoted_csv_names_may_contain_commas():
    name = lambda i: f'"City {i}, North"'
    parsed = parse_upload(edge_text(ring_pairs(), header=["from", "to"], name=name).encode())
    assert parsed.graph.node_ids[0] == "City 0, North"
    assert parsed.report["nodes"] == 30


def test_features_and_text_labels_align_with_node_ids():
    name = lambda i: f"n{i}"
    edges = edge_text(ring_pairs(), name=name)
    order = list(range(29, -1, -1))  # rows in another order than the edges
    features = "node_id,f1,f2\n" + "".join(f"n{i},{i},{-i / 2}\n" for i in order)
    labels = "node,community\n" + "".join(f"n{i},{'red' if i % 3 else 'blue'}\n" for i in order)
    parsed = parse_upload(edges.encode(), features.encode(), labels.encode(), name="friends")
    graph, report = parsed.graph, parsed.report
    assert report["feature_mode"] == "uploaded" and report["feature_size"] == 2
    assert graph.class_names == ["blue", "red"] and report["classes"] == 2
    assert report["labelled_nodes"] == 30
    for i, node in enumerate(graph.node_ids):
        k = int(node[1:])
        assert graph.x[i].tolist() == [k, -k / 2]
        assert graph.class_names[int(graph.y[i])] == ("red" if k % 3 else "blue")
    assert report["files"]["features"]["header"] == ["node_id", "f1", "f2"]
    assert report["files"]["labels"]["header"] == ["node", "community"]
    assert graph.name == "friends"


def test_integer_labels_keep_their_numbers():
    labels = "".join(f"{i},{i % 4}\n" for i in range(30))
    parsed = parse_upload(edge_text(ring_pairs()).encode(), labels=labels.encode())
    assert parsed.graph.y.tolist() == [i % 4 for i in range(30)]
    assert parsed.graph.class_names == ["0", "1", "2", "3"]


def test_without_features_small_graphs_get_identity_features():
    parsed = parse_upload(edge_text(ring_pairs()).encode())
    assert parsed.report["feature_mode"] == "identity"
    assert torch.equal(parsed.graph.x, torch.eye(30))
    assert any("identity features" in note for note in parsed.graph.notes)


def test_without_features_large_graphs_get_degree_features():
    n = IDENTITY_UPLOAD_LIMIT + 1
    parsed = parse_upload(edge_text(ring_pairs(n)).encode())
    assert parsed.report["feature_mode"] == "degree"
    assert parsed.graph.x.shape[0] == n and parsed.graph.x.shape[1] < 20
    assert any("degree features" in note for note in parsed.graph.notes)


def test_feature_rows_without_edges_become_isolated_nodes():
    features = "".join(f"{i},1.0\n" for i in range(33))  # 30, 31, 32 have no edges
    parsed = parse_upload(edge_text(ring_pairs()).encode(), features.encode())
    report = parsed.report
    assert (report["nodes"], report["isolated_nodes"], report["components"]) == (33, 3, 4)
    assert any("3 nodes of the features file not in the edge list ('30', '31', '32')" in w
               for w in report["warnings"])


# -------------------------------------------------------------------- bad input
def test_empty_file():
    error = refuse(b"")
    assert (error.file, error.line) == ("edges", None)
    assert str(error) == "edges file: the file is empty"


def test_file_with_only_comments_has_no_edges():
    assert str(refuse(b"# nothing here\n\n% still nothing\n")) == (
        "edges file: no edges: the file holds only blank lines and comments (lines starting "
        "with '#' or '%' are comments; quote node names that start so)")


def test_only_a_header_has_no_edges():
    assert "only the header ('source', 'target')" in str(refuse(b"source,target\n"))


def test_one_column():
    text = edge_text(ring_pairs()).splitlines()
    text[16] = "17"
    error = refuse("\n".join(text).encode())
    assert (error.file, error.line) == ("edges", 17)
    assert str(error).startswith("edges file, line 17: expected two columns of node ids "
                                 "(source and target), found 1 ('17')")


def test_more_than_three_columns():
    text = edge_text(ring_pairs()) + "1,2,3,4\n"
    error = refuse(text.encode())
    assert error.line == 61
    assert "found 4 ('1', '2', '3', '4')" in str(error)


def test_non_numeric_weights_are_refused_with_their_line():
    lines = [f"{a} {b} 1.5" for a, b in ring_pairs()]
    lines[4] = "4 5 heavy"
    error = refuse("\n".join(lines).encode())
    assert error.line == 5
    assert "found 3 ('4', '5', 'heavy')" in str(error) and "'heavy' is not a number" in str(error)
    assert "node names contain spaces" in str(error)  # whitespace files get the hint


def test_numeric_weights_are_accepted_and_ignored_with_a_warning():
    text = "source,target,weight\n" + "".join(f"{a},{b},0.{a}\n" for a, b in ring_pairs())
    parsed = parse_upload(text.encode())
    assert parsed.report["weights_ignored"] and parsed.report["edges"] == 60
    assert any("weights" in w and "ignored" in w for w in parsed.report["warnings"])


def test_empty_node_id():
    text = edge_text(ring_pairs()) + ",5\n"
    error = refuse(text.encode())
    assert error.line == 61 and "empty node id in column 1" in str(error)


def test_duplicate_edges_and_self_loops_are_dropped_counted_and_said():
    pairs = ring_pairs() + [(0, 1), (1, 0), (5, 5), (6, 6)]
    parsed = parse_upload(edge_text(pairs).encode())
    report = parsed.report
    assert (report["edges"], report["duplicate_edges"], report["self_loops"]) == (60, 2, 2)
    assert "Dropped 2 self-loops (edges from a node to itself)." in report["warnings"]
    assert any(w.startswith("Dropped 2 duplicate edges") for w in report["warnings"])
    assert report["warnings"][0] in parsed.graph.notes


def test_an_edge_list_with_both_directions_is_read_as_undirected():
    pairs = ring_pairs()
    parsed = parse_upload(edge_text(pairs + [(b, a) for a, b in pairs]).encode())
    assert parsed.report["edges"] == 60 and parsed.report["duplicate_edges"] == 60
    assert any("lists every edge in both directions" in w for w in parsed.report["warnings"])


def test_edge_nodes_missing_from_the_features_are_listed():
    features = "".join(f"{i},1.0,2.0\n" for i in range(23))
    error = refuse(edge_text(ring_pairs()).encode(), features.encode())
    assert error.file == "features"
    assert str(error) == ("features file: 7 of 30 nodes of the edge list have no feature row "
                          "('23', '24', '25', '26', '27' and 2 more); give every node a row, or "
                          "leave the features file out")


@pytest.mark.parametrize("value, kind", [("nan", "NaN (not a number)"), ("-inf", "infinite"),
                                         ("Infinity", "infinite")])
def test_nan_or_infinite_features_name_line_and_column(value, kind):
    rows = [f"{i},1.0,2.0,3.0" for i in range(30)]
    rows[11] = f"11,1.0,{value},3.0"
    error = refuse(edge_text(ring_pairs()).encode(), "\n".join(rows).encode())
    assert (error.file, error.line) == ("features", 12)
    assert str(error) == (f"features file, line 12: column 3: {value!r} is {kind}; features "
                          "must be finite numbers")


def test_feature_rows_of_different_lengths():
    rows = ["id,a,b,c"] + [f"{i},1,2,3" for i in range(30)]
    rows[9] = "8,1,2"
    error = refuse(edge_text(ring_pairs()).encode(), "\n".join(rows).encode())
    assert error.line == 10
    assert str(error) == ("features file, line 10: 2 feature values for node '8', but line 2 "
                          "has 3; every node needs the same number")


def test_non_numeric_feature_values():
    rows = [f"{i}\t0.5\t1e-3" for i in range(30)]
    rows[20] = "20\t0.5\tabc"
    error = refuse(edge_text(ring_pairs()).encode(), "\n".join(rows).encode())
    assert error.line == 21
    assert "column 3: 'abc' is not a number" in str(error)


def test_empty_feature_value():
    rows = [f"{i},0.5,1" for i in range(30)]
    rows[3] = "3,,1"
    error = refuse(edge_text(ring_pairs()).encode(), "\n".join(rows).encode())
    assert error.line == 4 and "column 2: an empty value" in str(error)


def test_a_node_with_two_feature_rows():
    rows = [f"{i},0.5" for i in range(30)] + ["4,0.7"]
    error = refuse(edge_text(ring_pairs()).encode(), "\n".join(rows).encode())
    assert error.line == 31 and "node '4' already has features on line 5" in str(error)


def test_labels_for_unknown_nodes():
    labels = "node,label\n" + "".join(f"{i},a\n" for i in range(30)) + "ghost,b\n"
    error = refuse(edge_text(ring_pairs()).encode(), labels=labels.encode())
    assert (error.file, error.line) == ("labels", 32)
    assert "node 'ghost' is not in the graph" in str(error)


def test_missing_labels():
    labels = "".join(f"{i},a\n" for i in range(27))
    error = refuse(edge_text(ring_pairs()).encode(), labels=labels.encode())
    assert str(error) == ("labels file: 3 of 30 nodes have no label ('27', '28', '29'); label "
                          "every node, or leave the labels file out")


def test_conflicting_labels():
    labels = "".join(f"{i},a\n" for i in range(30)) + "2,b\n"
    error = refuse(edge_text(ring_pairs()).encode(), labels=labels.encode())
    assert error.line == 31 and "labelled 'b' here but 'a' on line 3" in str(error)


def test_labels_with_three_columns():
    labels = "".join(f"{i},a,x\n" for i in range(30))
    error = refuse(edge_text(ring_pairs()).encode(), labels=labels.encode())
    assert error.line == 1 and "expected two columns (node id, label), found 3" in str(error)


def test_a_graph_too_small_to_split_names_the_number():
    pairs = ring_pairs(MIN_SPLIT_EDGES - 1, chord=1)[:MIN_SPLIT_EDGES - 1] + [(0, 0)]
    error = refuse(edge_text(pairs).encode())
    assert MIN_SPLIT_EDGES == 20
    assert str(error) == ("edges file: the graph has 19 edges after dropping 0 duplicate edges "
                          "and 1 self-loop; link prediction needs at least 20 to hold out 5% "
                          "validation and 10% test edges (at least one each)")


def test_the_smallest_accepted_graph_splits_for_real():
    parsed = parse_upload(edge_text(ring_pairs(MIN_SPLIT_EDGES, chord=1)[:MIN_SPLIT_EDGES]).encode())
    split = split_edges(parsed.graph, seed=3)
    assert split.val_pos.size(1) >= 1 and split.test_pos.size(1) >= 1


def test_a_complete_graph_is_too_dense_for_negative_edges():
    error = refuse(edge_text(itertools.combinations(range(7), 2)).encode())
    assert "too dense: only 0 node pairs unconnected" in str(error)


def test_a_file_over_the_size_limit():
    error = refuse(b"0" * (DEFAULT_MAX_BYTES + 1))
    assert str(error) == ("edges file: the file is 52,428,801 bytes, over the 52,428,800 bytes "
                          "upload limit")
    assert "is 60 MB, over the 50 MB upload limit" in str(refuse(b"0" * 60 * 2**20))
    small = refuse(edge_text(ring_pairs()).encode(), b"1,2\n" * 400, max_bytes=1000)
    assert str(small) == "features file: the file is 1,600 bytes, over the 1,000 bytes upload limit"


def test_binary_garbage_is_not_a_text_file():
    garbage = np.random.default_rng(0).integers(0, 256, 3000, dtype=np.uint8).tobytes()
    error = refuse(b"1,2\n3,4\n" + garbage)
    assert error.file == "edges" and error.line is not None and error.line >= 3
    assert "not a text file" in str(error)


def test_binary_garbage_without_nul_bytes_is_not_a_text_file():
    garbage = bytes(range(1, 32)) * 40
    assert "not a text file (byte 1 is a control byte)" in str(refuse(garbage))


def test_spreadsheets_and_archives_are_named():
    error = refuse(b"PK\x03\x04" + b"\x14\x00" * 50)
    assert str(error) == ("edges file: not a text file: it looks like a ZIP archive or an Excel "
                          "workbook (save it as CSV)")


def test_utf16_with_a_byte_order_mark_is_decoded():
    parsed = parse_upload(edge_text(ring_pairs(), name=lambda i: f"Zoë{i}").encode("utf-16"))
    assert parsed.report["files"]["edges"]["encoding"] == "UTF-16"
    assert parsed.graph.node_ids[0] == "Zoë0"


def test_utf16_without_a_byte_order_mark_says_so():
    error = refuse(edge_text(ring_pairs()).encode("utf-16-le"))
    assert error.line == 1
    assert "looks like UTF-16 text without a byte-order mark; save it as UTF-8" in str(error)


def test_latin1_text_is_read_with_a_warning_naming_the_byte_and_line():
    text = edge_text(ring_pairs(), name=lambda i: f"caf\u00e9{i}" if i == 7 else f"n{i}")
    parsed = parse_upload(text.encode("latin-1"))
    assert "café7" in parsed.graph.node_ids
    # Windows-1252 is Latin-1 plus printable quotes and dashes in 0x80-0x9F
    assert parsed.report["files"]["edges"]["encoding"] == "Windows-1252"
    first_line = next(i for i, line in enumerate(text.splitlines(), 1) if "café" in line)
    assert (f"The edges file is not UTF-8 (byte 0xE9 on line {first_line}): read as "
            "Windows-1252." in parsed.report["warnings"][0])


def test_undecodable_utf16_is_refused():
    error = refuse(b"\xff\xfe" + "1,2\n".encode("utf-16-le") + b"\x00\xd8")  # lone surrogate
    assert "does not decode as UTF-16" in str(error)


def test_upload_error_str_without_a_file():
    assert str(UploadError("bad", None, 3)) == "line 3: bad"
    assert str(UploadError("bad")) == "bad"


# --------------------------------------------------------------------- storage
def labelled_upload():
    edges = edge_text(ring_pairs(), name=lambda i: f"n{i}").encode()
    features = "".join(f"n{i},{i},{i % 5}\n" for i in range(30)).encode()
    labels = "".join(f"n{i},{'ab'[i % 2]}\n" for i in range(30)).encode()
    return parse_upload(edges, features, labels, name="demo")


def test_save_then_load_gives_the_same_graph(cache):
    parsed = labelled_upload()
    upload_id = save_upload(parsed)
    graph = load_upload(upload_id)
    for field in ("name", "node_ids", "class_names", "notes"):
        assert getattr(graph, field) == getattr(parsed.graph, field)
    for field in ("x", "edge_index", "y"):
        assert torch.equal(getattr(graph, field), getattr(parsed.graph, field))
    folder = cache / "uploads" / upload_id
    assert sorted(p.name for p in folder.iterdir()) == ["graph.npz", "meta.json"]
    assert json.loads((folder / "meta.json").read_text())["report"] == parsed.report
    assert not [p for p in (cache / "uploads").iterdir() if p.name.startswith(".")]


def test_identity_features_are_rebuilt_on_load():
    parsed = parse_upload(edge_text(ring_pairs()).encode())
    graph = load_upload(save_upload(parsed))
    assert torch.equal(graph.x, torch.eye(30))


def test_the_same_upload_gets_the_same_id_and_another_a_different_one():
    first, again = save_upload(labelled_upload()), save_upload(labelled_upload())
    other = save_upload(parse_upload(edge_text(ring_pairs(31)).encode()))
    assert first == again != other
    assert len(first) == 16 and int(first, 16) >= 0


@pytest.mark.parametrize("bad_id", ["../../etc", "0123456789ABCDEF", "", "0123456789abcdef0",
                                    "0123456789abcde/", None])
def test_malformed_ids_are_refused(bad_id):
    with pytest.raises(DatasetUnavailable, match="is not an upload id"):
        load_upload(bad_id)


def test_an_unknown_id_says_to_upload_again():
    with pytest.raises(DatasetUnavailable, match="upload the files again"):
        load_upload("0123456789abcdef")


def test_a_damaged_upload_is_refused_clearly(cache):
    upload_id = save_upload(labelled_upload())
    (cache / "uploads" / upload_id / "graph.npz").write_bytes(b"not a zip")
    with pytest.raises(DatasetUnavailable, match="is damaged"):
        load_upload(upload_id)


def test_load_graph_reads_an_upload_and_applies_the_feature_mode():
    upload_id = save_upload(labelled_upload())
    graph = load_graph(TrainConfig(dataset=f"upload:{upload_id}"))
    assert graph.node_ids[0] == "n0" and graph.num_features == 2
    degree = load_graph(TrainConfig(dataset=f"upload:{upload_id}", features="degree"))
    assert degree.num_features == 17 and degree.num_classes == 2


def test_a_trainer_trains_on_an_upload():
    upload_id = save_upload(labelled_upload())
    config = TrainConfig(dataset=f"upload:{upload_id}", model="argva", epochs=4, eval_interval=2,
                         latent_size=4, encoder_hidden=8, discriminator_hidden=8)
    trainer = Trainer(config)
    records = list(trainer)
    assert len(records) == 4 and all(np.isfinite(r.encoder_loss) for r in records)
    final = trainer.final_metrics()
    assert 0.0 <= final["test_auc"] <= 1.0 and "nmi" in final



def test_both_directions_matches_pyg_coalesce_of_to_undirected():
    from torch_geometric.utils import coalesce, to_undirected
    rng = np.random.default_rng(1)
    pairs = np.unique(np.sort(rng.integers(0, 50, (200, 2)), axis=1), axis=0)
    pairs = pairs[pairs[:, 0] != pairs[:, 1]].T
    expected = coalesce(to_undirected(torch.from_numpy(pairs), num_nodes=50), num_nodes=50)
    assert torch.equal(both_directions(pairs, 50), expected)
