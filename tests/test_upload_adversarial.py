"""Uploads under awkward input: every file either becomes a working graph with an honest
preview, or an `UploadError` that says what is wrong and where. One test per case."""
import itertools
import time

import numpy as np
import pytest
import torch

from argae_core.config import TrainConfig
from argae_core.training import Trainer
from argae_core.uploads import UploadError, load_upload, parse_upload, save_upload
from test_uploads import cache, ring_pairs  # noqa: F401  (the same per-test cache fixture and ring graph)


def lines(pairs, sep=",", name=str, end="\n", header=None) -> str:
    rows = [sep.join(header)] if header else []
    rows += [f"{name(a)}{sep}{name(b)}" for a, b in pairs]
    return end.join(rows) + end


RING = lines(ring_pairs()).encode()


def refuse(*args, **kwargs) -> UploadError:
    with pytest.raises(UploadError) as info:
        parse_upload(*args, **kwargs)
    return info.value


def counts(parsed):
    r = parsed.report
    return r["nodes"], r["edges"], r["isolated_nodes"], r["components"]


def trains(parsed, epochs=3):
    """Save, reload and train a few epochs: the records' losses are finite."""
    upload_id = save_upload(parsed)
    graph = load_upload(upload_id)
    config = TrainConfig(dataset=f"upload:{upload_id}", model="argva", epochs=epochs,
                         eval_interval=1, latent_size=4, encoder_hidden=8, discriminator_hidden=8)
    records = list(Trainer(config, graph))
    assert len(records) == epochs and all(np.isfinite(r.encoder_loss) for r in records)
    return graph


# -------------------------------------------------------------- encodings, line ends
def test_utf8_bom_before_a_header():
    text = lines(ring_pairs(), header=["source", "target"]).encode()
    parsed = parse_upload(b"\xef\xbb\xbf" + text)
    assert parsed.report["files"]["edges"]["header"] == ["source", "target"]
    assert counts(parsed) == (30, 60, 0, 1)


@pytest.mark.parametrize("codec, name", [("utf-16", "UTF-16"), ("utf-32", "UTF-32")])
def test_utf16_and_utf32_with_a_byte_order_mark(codec, name):
    parsed = parse_upload(lines(ring_pairs(), name=lambda i: f"Zoë{i}").encode(codec))
    assert parsed.report["files"]["edges"]["encoding"] == name
    assert parsed.graph.node_ids[0] == "Zoë0" and counts(parsed) == (30, 60, 0, 1)
    trains(parsed)


def test_windows_1252_quotes_are_read_as_quotes_not_control_characters():
    text = lines(ring_pairs(), name=lambda i: f"\u2018n{i}\u2019")
    parsed = parse_upload(text.encode("cp1252"))
    assert parsed.graph.node_ids[0] == "\u2018n0\u2019"
    assert parsed.report["files"]["edges"]["encoding"] == "Windows-1252"
    assert "read as Windows-1252" in parsed.report["warnings"][0]


def test_bytes_undefined_in_windows_1252_fall_back_to_latin1():
    text = lines(ring_pairs(), name=lambda i: f"n{i}\x81")
    parsed = parse_upload(text.encode("latin-1"))
    assert parsed.report["files"]["edges"]["encoding"] == "Latin-1"
    assert parsed.graph.node_ids[0] == "n0\x81"
    assert "(byte 0x81 on line 1): read as Latin-1" in parsed.report["warnings"][0]


def test_a_utf8_mark_on_a_file_that_is_not_utf8_is_not_part_of_the_first_id():
    parsed = parse_upload(b"\xef\xbb\xbf" + lines(ring_pairs(), name=lambda i: f"Jos\u00e9{i}")
                          .encode("latin-1"))
    assert parsed.graph.node_ids[0] == "José0"


def test_ids_match_across_files_in_different_encodings():
    name = lambda i: f"Jos\u00e9{i}"
    edges = lines(ring_pairs(), name=name).encode("utf-8")
    features = "".join(f"{name(i)},{i}\n" for i in range(30)).encode("latin-1")
    labels = "".join(f"{name(i)},{i % 2}\n" for i in range(30)).encode("utf-16")
    parsed = parse_upload(edges, features, labels)
    assert [f["encoding"] for f in parsed.report["files"].values()] == [
        "UTF-8", "Windows-1252", "UTF-16"]
    assert parsed.graph.x[:, 0].tolist() == list(range(30))
    assert parsed.graph.y.tolist() == [i % 2 for i in range(30)]


@pytest.mark.parametrize("end", ["\r\n", "\r"], ids=["crlf", "cr-only"])
def test_windows_and_old_mac_line_endings(end):
    text = lines(ring_pairs(), end=end) + "1,2,x" + end  # a bad line: its number must be right
    error = refuse(text.encode())
    assert error.line == 61 and "'x' is not a number" in error.message
    assert counts(parse_upload(lines(ring_pairs(), end=end).encode())) == (30, 60, 0, 1)


def test_trailing_blank_lines_and_a_dos_end_of_file_mark():
    parsed = parse_upload(RING + b"\n\n   \n\t\n" + b"\x1a")
    assert counts(parsed) == (30, 60, 0, 1)


def test_trailing_delimiters_are_not_an_empty_third_column():
    text = "".join(f"{a},{b},\n" for a, b in ring_pairs())
    parsed = parse_upload(text.encode())
    assert counts(parsed) == (30, 60, 0, 1) and not parsed.report["weights_ignored"]


def test_rows_of_only_delimiters_are_blank_lines():
    """Spreadsheets export an empty row as ',,'; before, a first such row was taken for an
    empty header and a later one raised 'found 1 ()'."""
    rows = lines(ring_pairs()).splitlines()
    text = "\n".join([",,"] + rows[:10] + [" , , "] + rows[10:] + [",,,"])
    parsed = parse_upload(text.encode())
    assert counts(parsed) == (30, 60, 0, 1)
    assert parsed.report["files"]["edges"]["header"] is None
    error = refuse("\n".join(rows[:10] + [",,", "1,2,3,4"] + rows[10:]).encode())
    assert error.line == 12  # blank rows still count as lines


def test_a_single_line_without_a_newline_is_too_small_to_split():
    error = refuse(b"1,2")
    assert error.message.startswith("the graph has 1 edge; link prediction needs at least 20")


# ------------------------------------------------------------------------ delimiters
def test_quoted_ids_with_commas_inside():
    parsed = parse_upload(lines(ring_pairs(), name=lambda i: f'"a, {i}"').encode())
    assert parsed.graph.node_ids[:2] == ["a, 0", "a, 1"] and counts(parsed) == (30, 60, 0, 1)


def test_quoted_ids_with_spaces_in_a_whitespace_separated_file():
    parsed = parse_upload(lines(ring_pairs(), sep="  ", name=lambda i: f'"n {i}"').encode())
    assert parsed.report["files"]["edges"]["delimiter"] == "whitespace"
    assert parsed.graph.node_ids[:2] == ["n 0", "n 1"] and counts(parsed) == (30, 60, 0, 1)


def test_semicolon_separated_with_decimal_comma_weights():
    """European CSV: ';' separates, ',' is the decimal mark. Before, the comma won and every
    line became the node '0;1;0' and the node '5'."""
    text = "".join(f"{a};{b};0,{a + 1}\n" for a, b in ring_pairs())
    parsed = parse_upload(text.encode())
    assert parsed.report["files"]["edges"]["delimiter"] == "semicolon"
    assert counts(parsed) == (30, 60, 0, 1) and parsed.report["weights_ignored"]
    assert parsed.graph.node_ids == [str(i) for i in range(30)]


def test_semicolon_features_with_decimal_commas():
    features = "".join(f"{i};0,5;{i},25\n" for i in range(30))
    parsed = parse_upload(RING, features.encode())
    assert parsed.report["files"]["features"]["delimiter"] == "semicolon"
    assert parsed.graph.x[3].tolist() == [0.5, 3.25]


def test_decimal_commas_in_a_tab_separated_features_file_are_explained():
    features = "".join(f"{i}\t0,5\n" for i in range(30))
    error = refuse(RING, features.encode())
    assert (error.line, error.message) == (1, "column 2: '0,5' is not a number: decimal commas "
                                              "are read only in semicolon-separated files; "
                                              "write a decimal point")


def test_semicolons_inside_quoted_names_do_not_make_a_semicolon_file():
    parsed = parse_upload(lines(ring_pairs(), name=lambda i: f'"x;{i}"').encode())
    assert parsed.report["files"]["edges"]["delimiter"] == "comma"
    assert parsed.graph.node_ids[0] == "x;0"


def test_mixed_tabs_and_spaces():
    text = "".join(f"{a}\t {b}\n" if a % 2 else f"{a}   {b}\n" for a, b in ring_pairs())
    parsed = parse_upload(text.encode())
    assert parsed.report["files"]["edges"]["delimiter"] == "whitespace"
    assert counts(parsed) == (30, 60, 0, 1)


def test_a_pipe_separated_file_is_refused_with_the_separators_we_read():
    error = refuse(lines(ring_pairs(), sep="|").encode())
    assert error.line == 1
    assert error.message.startswith("expected two columns of node ids (source and target), "
                                    "found 1 ('0|1'); separate them with a comma")


def test_a_pandas_row_index_column_is_skipped():
    """DataFrame.to_csv() without index=False: ',source,target' then 'k,a,b'. Before, the
    index was read as the source, the source as the target and the target as a weight."""
    text = ",source,target\n" + "".join(f"{k},{a},{b}\n" for k, (a, b) in enumerate(ring_pairs()))
    parsed = parse_upload(text.encode())
    assert counts(parsed) == (30, 60, 0, 1)
    assert parsed.report["self_loops"] == 0 and not parsed.report["weights_ignored"]
    assert "The first column (header '') is ignored" in parsed.report["warnings"][0]


def test_a_row_with_only_the_skipped_index_column():
    text = ",source,target\n" + "".join(f"{k},{a},{b}\n" for k, (a, b) in enumerate(ring_pairs()))
    error = refuse((text + "60,,\n").encode())
    assert (error.line, error.message) == (62, "no node ids in this line ('60,,')")


def test_an_edge_id_column_before_source_and_target_is_skipped():
    rows = [f"e{k},{a},{b}\n" for k, (a, b) in enumerate(ring_pairs())]
    text = "id,source,target\n" + "".join(rows)
    parsed = parse_upload(text.encode())
    assert counts(parsed) == (30, 60, 0, 1) and not parsed.report["weights_ignored"]
    assert parsed.report["warnings"][0].startswith("The first column (header 'id') is ignored")


def test_a_weight_column_after_source_and_target_is_not_skipped():
    text = "from,to,weight\n" + "".join(f"{a},{b},2\n" for a, b in ring_pairs())
    parsed = parse_upload(text.encode())
    assert parsed.graph.node_ids == [str(i) for i in range(30)]
    assert parsed.report["weights_ignored"]


# -------------------------------------------------------------- headers and comments
@pytest.mark.parametrize("text", [b"source,target\n", b"source,target",
                                  b"\xef\xbb\xbfsrc\tdst\r\n"])
def test_a_header_only(text):
    assert refuse(text).message.startswith("no edges: only the header")


def test_comments_only_says_what_a_comment_is():
    error = refuse(b"# a\n% b\n")
    assert "lines starting with '#' or '%' are comments" in error.message


def test_hashtag_ids_among_the_edges_are_not_dropped_silently():
    text = RING + b"#python,#ml\n#ml,#ai\n"
    parsed = parse_upload(text)
    warning = next(w for w in parsed.report["warnings"] if w.startswith("Skipped 2 lines"))
    assert "line 61, '#python,#ml'" in warning and "double quotes" in warning
    quoted = parse_upload(RING + b'"#python","#ml"\n')
    assert "#python" in quoted.graph.node_ids


@pytest.mark.parametrize("sep, name", [(",", "node_{}"), ("\t", "group {}")])
def test_a_first_edge_between_names_with_column_words_is_an_edge_not_a_header(sep, name):
    """Before: 'node_a,node_b' was taken for a header and the edge was lost."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    pairs = [(i, (i + 1) % 26) for i in range(26)] + [(i, (i + 5) % 26) for i in range(26)]
    parsed = parse_upload(lines(pairs, sep=sep, name=lambda i: name.format(letters[i])).encode())
    assert parsed.report["files"]["edges"]["header"] is None
    assert counts(parsed) == (26, 52, 0, 1)


def test_a_header_with_a_weight_column():
    text = "source target weight\n" + "".join(f"{a} {b} 1.5\n" for a, b in ring_pairs())
    parsed = parse_upload(text.encode())
    assert parsed.report["files"]["edges"]["header"] == ["source", "target", "weight"]
    assert parsed.report["weights_ignored"] and counts(parsed) == (30, 60, 0, 1)


# ------------------------------------------------------------------------ node ids
def test_1_and_1_0_are_different_ids_and_a_warning_says_so():
    text = "".join(f"{a}.0,{b}\n" for a, b in ring_pairs())
    parsed = parse_upload(text.encode())
    assert counts(parsed)[0] == 60  # ids are text: '1' and '1.0' are two nodes
    warning = next(w for w in parsed.report["warnings"] if "same number" in w)
    assert "'1' and '1.0'" in warning and "compared as text" in warning


def test_007_and_7_are_different_ids_and_a_warning_says_so():
    text = lines(ring_pairs()) + "007,3\n"
    parsed = parse_upload(text.encode())
    assert "007" in parsed.graph.node_ids and "7" in parsed.graph.node_ids
    assert any("'7' and '007'" in w for w in parsed.report["warnings"])


def test_plain_integer_ids_raise_no_look_alike_warning():
    assert parse_upload(RING).report["warnings"] == []


def test_features_keyed_1_0_for_edges_keyed_1_say_the_spelling_differs():
    features = "".join(f"{i}.0,{i},1\n" for i in range(30))
    error = refuse(RING, features.encode())
    assert error.file == "features"
    assert "30 of 30 nodes of the edge list have no feature row" in error.message
    assert "writes 30 of these ids differently ('0.0' for '0', '1.0' for '1'" in error.message


def test_labels_keyed_007_for_nodes_keyed_7_say_the_spelling_differs():
    labels = "".join(f"{i:03d},a\n" for i in range(30))
    error = refuse(RING, labels=labels.encode())
    assert (error.file, error.line) == ("labels", 1)
    assert error.message == ("node '000' is not in the graph (not in the edges or the features "
                             "file); the graph has '0': ids are matched as text, exactly as "
                             "written")


def test_ids_starting_with_zero_keep_their_zeros_everywhere():
    edges = lines(ring_pairs(), name=lambda i: f"{i:03d}").encode()
    features = "".join(f"{i:03d},{i}\n" for i in range(30)).encode()
    labels = "".join(f"{i:03d},{i % 2}\n" for i in range(30)).encode()
    parsed = parse_upload(edges, features, labels)
    assert parsed.graph.node_ids[:3] == ["000", "001", "002"]
    assert parsed.graph.x[:, 0].tolist() == list(range(30))
    assert parsed.graph.y.tolist() == [i % 2 for i in range(30)]
    trains(parsed)


def test_a_very_long_id_is_cut_short_in_messages():
    long_id = "x" * 100_000
    error = refuse(RING + f"{long_id},1,heavy\n".encode())
    assert error.line == 61 and "(100,000 characters)" in error.message
    assert len(error.message) < 500


# ------------------------------------------------------------------------- columns
def test_more_than_three_columns_on_a_very_long_line():
    error = refuse(RING + (",".join(["1"] * 100_000) + "\n").encode())
    assert error.line == 61 and "found 100000" in error.message and len(error.message) < 300


@pytest.mark.parametrize("weight, ok", [("-2.5", True), ("1e3", True), ("nan", False),
                                        ("inf", False), ("heavy", False)])
def test_weights_numeric_negative_nan_or_text(weight, ok):
    text = lines(ring_pairs()) + f"0,15,{weight}\n"
    if ok:
        parsed = parse_upload(text.encode())
        assert parsed.report["weights_ignored"] and parsed.report["edges"] == 61
        return
    error = refuse(text.encode())
    assert error.line == 61 and repr(weight) in error.message


def test_nul_bytes_name_the_line():
    error = refuse(RING[:50] + b"\x00" + RING[50:])
    assert error.line == RING[:50].count(b"\n") + 1 and "NUL byte" in error.message


@pytest.mark.parametrize("text, what", [
    (b"<!DOCTYPE html><html><body>Not found</body></html>\n", "HTML or XML"),
    (b'<?xml version="1.0"?>\n<graphml></graphml>\n', "HTML or XML"),
    (b'{"edges": [[1, 2], [2, 3]]}\n', "JSON"),
    (b"[[1, 2],\n [2, 3]]\n", "JSON")])
def test_html_xml_and_json_are_named(text, what):
    error = refuse(text)
    assert error.line == 1 and error.message.startswith(f"this looks like {what}")
    assert error.message.endswith("export the graph as a CSV or TSV edge list, one edge per line")
    in_features = refuse(RING, text)
    assert (in_features.file, in_features.line) == ("features", 1)
    assert in_features.message.endswith("save the features as a CSV or TSV table, one node "
                                        "per line")
    assert refuse(RING, labels=text).message.startswith(f"this looks like {what}")


# ------------------------------------------------------------------------ features
def test_features_with_and_without_a_header_give_the_same_matrix():
    body = "".join(f"{i},{i},{-i}\n" for i in range(30))
    with_header = parse_upload(RING, ("node,a,b\n" + body).encode())
    without = parse_upload(RING, body.encode())
    assert with_header.report["files"]["features"]["header"] == ["node", "a", "b"]
    assert without.report["files"]["features"]["header"] is None
    assert torch.equal(with_header.graph.x, without.graph.x)
    trains(without)


def test_a_feature_row_with_fewer_columns_names_both_lines():
    rows = [f"{i},1,2,3" for i in range(30)]
    rows[5] = "5,1,2"
    error = refuse(RING, "\n".join(rows).encode())
    assert error.line == 6 and "2 feature values for node '5', but line 1 has 3" in error.message


def test_string_feature_values_say_to_encode_categories():
    rows = "".join(f"{i},{'red' if i % 2 else 'blue'},1\n" for i in range(30))
    error = refuse(RING, rows.encode())
    assert error.line == 1
    assert error.message.startswith("column 2: 'blue' is not a number; features must be numbers "
                                    "(encode categories")


def test_a_feature_file_starting_with_a_row_of_only_delimiters():
    """Before: IndexError."""
    parsed = parse_upload(RING, (",,\n" + "".join(f"{i},{i}\n" for i in range(30))).encode())
    assert parsed.report["files"]["features"]["header"] is None
    assert parsed.graph.x[:, 0].tolist() == list(range(30))


def test_a_feature_row_without_an_id():
    rows = [f"{i},1" for i in range(30)]
    rows[4] = ",1"
    error = refuse(RING, "\n".join(rows).encode())
    assert error.line == 5 and error.message == "empty node id in column 1 (',1')"


def test_a_tab_file_with_a_space_separated_line_says_how_it_was_read():
    text = lines(ring_pairs(), sep="\t") + "5 6\n"
    error = refuse(text.encode())
    assert error.line == 61 and "read as tab-separated, from its first lines" in error.message


def test_features_beyond_float32_are_refused_not_stored_as_infinity():
    rows = [f"{i},1" for i in range(30)]
    rows[8] = "8,1e39"
    error = refuse(RING, "\n".join(rows).encode())
    assert error.line == 9 and "'1e39' is too large" in error.message


def test_features_file_with_a_utf16_bom_and_crlf():
    body = "id,f\r\n" + "".join(f"{i},{i / 2}\r\n" for i in range(30))
    parsed = parse_upload(RING, body.encode("utf-16"))
    assert parsed.report["files"]["features"]["encoding"] == "UTF-16"
    assert parsed.graph.x[7].tolist() == [3.5]


# -------------------------------------------------------------------------- labels
def test_labels_with_missing_entries_list_the_nodes():
    labels = "".join(f"{i},a\n" for i in range(30) if i not in (4, 9))
    error = refuse(RING, labels=labels.encode())
    assert error.message.startswith("2 of 30 nodes have no label ('4', '9')")


def test_an_empty_label_names_the_node_and_line():
    labels = "".join(f"{i},{'' if i == 6 else 'a'}\n" for i in range(30))
    error = refuse(RING, labels=labels.encode())
    assert (error.line, error.message) == (7, "node '6' has no label (each line is node id, label)")


def test_a_labels_header_without_column_words():
    labels = "user,team\n" + "".join(f"{i},{i % 3}\n" for i in range(30))
    parsed = parse_upload(RING, labels=labels.encode())
    assert parsed.report["files"]["labels"]["header"] == ["user", "team"]
    assert parsed.report["classes"] == 3


def test_a_first_label_line_for_an_unknown_node_is_refused_not_skipped_as_a_header():
    labels = "ghost,1\n" + "".join(f"{i},{i % 3}\n" for i in range(30))
    error = refuse(RING, labels=labels.encode())
    assert error.line == 1 and "node 'ghost' is not in the graph" in error.message


def test_numeric_labels_keep_their_text_and_look_alikes_are_warned_about():
    labels = "".join(f"{i},{i % 2}{'.0' if i > 20 else ''}\n" for i in range(30))
    parsed = parse_upload(RING, labels=labels.encode())
    assert parsed.graph.class_names == ["0", "0.0", "1", "1.0"]
    assert any("'0' and '0.0'" in w and "labels are compared as text" in w
               for w in parsed.report["warnings"])


def test_a_label_per_node_is_warned_about():
    labels = "".join(f"{i},n{i}\n" for i in range(30))
    parsed = parse_upload(RING, labels=labels.encode())
    assert any("Every node has a label of its own" in w for w in parsed.report["warnings"])


def test_labels_with_spaces_in_a_whitespace_file_get_a_hint():
    labels = "".join(f"{i} class {i % 3}\n" for i in range(30))
    error = refuse(RING, labels=labels.encode())
    assert error.line == 1 and error.message.endswith("upload a CSV or TSV file")


# -------------------------------------------------------------------------- shapes
def test_a_graph_with_two_nodes():
    assert "link prediction needs at least 20" in refuse(b"a,b\n").message


def test_every_node_isolated_except_two_is_too_small_to_split():
    features = "".join(f"{i},1\n" for i in range(200)).encode()
    error = refuse(b"0,1\n", features)
    assert error.file == "edges" and error.message.startswith("the graph has 1 edge; link "
                                                              "prediction needs at least 20")


def test_every_node_isolated_but_the_edges_nodes():
    features = "".join(f"{i},1\n" for i in range(200)).encode()
    parsed = parse_upload(RING, features)
    assert counts(parsed) == (200, 60, 170, 171)
    trains(parsed)


def test_a_star_graph():
    parsed = parse_upload("".join(f"hub,leaf{i}\n" for i in range(30)).encode())
    assert counts(parsed) == (31, 30, 0, 1) and parsed.report["largest_component"] == 31
    trains(parsed)


@pytest.mark.parametrize("n", [7, 10])
def test_a_complete_graph_is_too_dense(n):
    error = refuse(lines(itertools.combinations(range(n), 2)).encode())
    assert "too dense: only 0 node pairs unconnected" in error.message


def test_a_nearly_complete_graph_that_still_splits_trains():
    pairs = list(itertools.combinations(range(12), 2))[:55]
    parsed = parse_upload(lines(pairs).encode())
    assert counts(parsed) == (12, 55, 0, 1)
    trains(parsed)


def test_every_edge_in_both_directions_dedupes_to_undirected():
    pairs = ring_pairs()
    parsed = parse_upload(lines(pairs + [(b, a) for a, b in pairs], sep="\t").encode())
    assert counts(parsed) == (30, 60, 0, 1) and parsed.report["duplicate_edges"] == 60
    assert any("lists every edge in both directions" in w for w in parsed.report["warnings"])


def test_one_big_component_and_many_tiny_ones():
    pairs = ring_pairs(100) + [(1000 + 2 * i, 1001 + 2 * i) for i in range(50)]
    parsed = parse_upload(lines(pairs).encode())
    assert counts(parsed) == (200, 250, 0, 51) and parsed.report["largest_component"] == 100
    trains(parsed)


def test_a_200k_edge_random_file_parses():
    rng = np.random.default_rng(0)
    ends = rng.integers(0, 50_000, (200_000, 2))
    text = "\n".join(f"u{a}\tu{b}" for a, b in ends).encode()
    start = time.perf_counter()
    parsed = parse_upload(text)
    print(f"200k edges ({len(text) / 1e6:.1f} MB): parsed in {time.perf_counter() - start:.2f} s")
    pairs = {(min(a, b), max(a, b)) for a, b in ends.tolist() if a != b}
    assert parsed.report["edges"] == len(pairs)
    assert parsed.report["nodes"] == len(np.unique(ends))
    assert parsed.report["self_loops"] == int((ends[:, 0] == ends[:, 1]).sum())
    assert parsed.report["feature_mode"] == "degree"


# ------------------------------------------------ issue 14: wrong graphs, wrong pointers
NAMED = lambda i: f"p{i}x"  # noqa: E731  (names, so a header of words is not told by numbers)


@pytest.mark.parametrize("header", [("user", "item"), ("citing", "cited")])
def test_a_header_of_unknown_words_is_read_as_a_header_and_said(header):
    parsed = parse_upload(lines(ring_pairs(), name=NAMED, header=header).encode())
    assert counts(parsed) == (30, 60, 0, 1)                     # no phantom nodes 'user', 'item'
    assert parsed.report["files"]["edges"]["header"] == list(header)
    assert any("read as a header" in w for w in parsed.report["warnings"])


def test_a_first_edge_between_nodes_seen_again_stays_an_edge():
    parsed = parse_upload(lines(ring_pairs(), name=NAMED).encode())
    assert parsed.report["files"]["edges"]["header"] is None and counts(parsed) == (30, 60, 0, 1)


def test_json_lines_of_pairs_are_refused_as_json():
    text = "".join(f"[{a}, {b}]\n" for a, b in ring_pairs())
    error = refuse(text.encode())
    assert error.line == 1 and "JSON lines" in error.message


def test_a_control_character_inside_an_id_is_refused_with_its_line():
    text = lines(ring_pairs(), name=NAMED).replace("p3x,", "p\x013x,", 1)
    error = refuse(text.encode())
    assert "control character (U+0001)" in error.message and error.line == 4  # the edge 3-4


def test_a_control_character_inside_a_label_is_refused():
    labels = "".join(f"{i},{'a' if i % 2 else 'b'}\n" for i in range(30)).replace("1,a", "1,a\x07", 1)
    error = refuse(RING, labels=labels.encode())
    assert error.file == "labels" and "U+0007" in error.message and error.line == 2


@pytest.mark.parametrize("twin, escaped", [("p5\u200bx", "\\u200b"), ("p5\u00adx", "\\xad")])
def test_ids_differing_by_an_invisible_character_get_a_look_alike_warning(twin, escaped):
    text = lines(ring_pairs(), name=NAMED) + f"{twin},p9x\n"
    parsed = parse_upload(text.encode())
    said = " ".join(parsed.report["warnings"])
    assert "look the same" in said and escaped in said


def test_ids_differing_by_unicode_normalisation_get_a_look_alike_warning():
    composed, decomposed = lambda i: f"caf\u00e9{i}", "cafe\u03015"
    parsed = parse_upload((lines(ring_pairs(), name=composed) + f"{decomposed},caf\u00e99\n").encode())
    assert parsed.report["nodes"] == 31  # kept apart, as written...
    assert any("normalisation" in w and "\\u0301" in w for w in parsed.report["warnings"])  # ...and said


def test_alternating_comma_and_tab_lines_are_told_to_use_one_separator():
    rows = [f"{a}{',' if i % 2 else chr(9)}{b}" for i, (a, b) in enumerate(ring_pairs())]
    error = refuse(("\n".join(rows) + "\n").encode())
    assert "use one separator" in error.message and "separate them with a comma" not in error.message


def test_an_unclosed_quote_is_named_with_its_line():
    error = refuse(RING.decode().replace("3,4", '"3,4', 1).encode())
    assert "never closed" in error.message and error.line is not None


def test_a_quote_closed_before_the_end_of_a_name_is_still_read_leniently():
    parsed = parse_upload(lines(ring_pairs(), name=lambda i: f'"{i}"x').encode())
    assert parsed.graph.node_ids[0] == "0x"


@pytest.mark.parametrize("data, what", [
    (b"SQLite format 3\x00\x10\x00\x01\x01" + b"\x00" * 4000, "SQLite database"),
    (b"\x93NUMPY\x01\x00" + b"\x00" * 200, "NumPy"),
    (b"\x00\x01\x00\x00" * 400, "plain-text CSV"),  # NULs in both halves: not UTF-16
])
def test_binary_files_are_named_not_called_utf16(data, what):
    error = refuse(data)
    assert what in error.message and "UTF-16" not in error.message
