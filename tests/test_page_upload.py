"""Bring your own graph on the Train page (AppTest): preview, train, and refusals that leave
the page working."""
from __future__ import annotations

from apptest_helpers import button, open_page, run_until

EDGES = ("source,target\n" + "".join(f"n{i},n{(i + 1) % 40}\n" for i in range(40))
         + "".join(f"n{i},n{(i + 9) % 40}\n" for i in range(40)) + "n3,n4\nn5,n5\n").encode()
LABELS = ("node,label\n" + "".join(f"n{i},{'ab'[i % 2]}\n" for i in range(40))).encode()


def choose_upload(at):
    at.selectbox(key="w_dataset").set_value("upload").run()
    return at


def cards(at) -> dict:
    return {m.label: m.value for m in at.metric}


def test_an_uploaded_edge_list_is_previewed_and_trains():
    at = choose_upload(open_page("pages/train.py", {"epochs": "20"}))
    assert button(at, "Start").disabled  # nothing uploaded yet
    at.file_uploader(key="up_edges").upload("ring.csv", EDGES, "text/csv")
    at.file_uploader(key="up_labels").upload("labels.csv", LABELS, "text/csv")
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    preview = cards(at)
    assert preview["Nodes"] == "40" and preview["Edges"] == "80" and preview["Classes"] == "2", preview
    assert any("identity features" in c.value for c in at.caption)      # which featurisation, and why
    said = " ".join(w.value for w in at.warning)
    assert "duplicate" in said and "self-loop" in said, said              # dropped, counted, said
    button(at, "Start").click()
    run_until(at, lambda a: any(h.value == "Test metrics" for h in a.header))
    table = at.dataframe[-1].value
    assert 0.0 <= float(table["AUC"].iloc[0]) <= 1.0 and table["NMI"].notna().all()


def test_a_bad_upload_says_where_and_starts_nothing():
    at = choose_upload(open_page("pages/train.py"))
    at.file_uploader(key="up_edges").upload("bad.csv", b"a,b\nc,d\nlonely\n", "text/csv")
    at.run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert errors and "line 3" in errors[0], errors
    assert button(at, "Start").disabled


def test_an_upload_the_server_cannot_store_is_explained_not_a_traceback(tmp_path, monkeypatch):
    blocked = tmp_path / "cache"
    blocked.write_bytes(b"")  # a file where the cache folder should be: mkdir fails
    monkeypatch.setenv("ARGAE_CACHE_DIR", str(blocked))
    at = choose_upload(open_page("pages/train.py"))
    at.file_uploader(key="up_edges").upload("ring.csv", EDGES, "text/csv")
    at.run()
    assert not at.exception
    assert any("could not store" in e.value for e in at.error), [e.value for e in at.error]
    assert button(at, "Start").disabled


def test_without_a_features_file_the_features_widget_says_what_raw_uses_and_the_run_is_named_after_the_file():
    at = choose_upload(open_page("pages/train.py", {"epochs": "3", "model": "gae"}))
    at.file_uploader(key="up_edges").upload("my_graph.csv", EDGES, "text/csv")
    at.run()
    features = at.selectbox(key="w_features")
    assert features.value == "raw" and "one-hot ids" in features.format_func("raw")  # not plain "raw"
    assert any("identity features" in c.value for c in at.caption)                 # and the caption agrees
    features.set_value("degree").run()
    caption = " ".join(c.value for c in at.caption)
    assert "degree" in caption and "No features file: identity" not in caption    # says what is used now
    button(at, "Start").click()
    run_until(at, lambda a: any(s.value == "Test metrics" for s in a.header))  # an h2 (heading order)
    assert at.dataframe[-1].value["run"].iloc[0] == "GAE on my_graph.csv"        # not upload:<hash>
