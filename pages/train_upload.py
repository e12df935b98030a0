"""The Train page's upload section: your own graph's files, read, stored and previewed."""
from __future__ import annotations

import streamlit as st

from argae_core.config import TrainConfig


@st.cache_data(show_spinner="Reading your files...", max_entries=8)
def parse_and_store(edges: bytes, features: bytes | None, labels: bytes | None, name: str):
    """(upload id, report) or (None, message); cached on the bytes so reruns do not re-parse."""
    from argae_core import uploads  # imported once a file is given (the page process stays light)
    try:
        parsed = uploads.parse_upload(edges, features, labels, name=name)
        return uploads.save_upload(parsed), parsed.report
    except uploads.UploadError as exc:
        return None, str(exc)


def upload_section(saved: TrainConfig) -> str:
    """File uploaders and a preview; returns 'upload:<id>' or 'upload:' until a graph is valid."""
    st.caption("Plain text only: an edge list (CSV, TSV or whitespace; two columns of node ids, "
               "optional header), optional features (node id, values...) and labels (node id, label).")
    edges = st.file_uploader("Edge list", key="up_edges")
    features = st.file_uploader("Node features (optional)", key="up_features")
    labels = st.file_uploader("Node labels (optional)", key="up_labels")
    if edges is None:
        return saved.dataset if saved.dataset.startswith("upload:") else "upload:"
    try:
        upload_id, report = parse_and_store(edges.getvalue(), features and features.getvalue(),
                                            labels and labels.getvalue(), edges.name)
    except (OSError, MemoryError) as exc:  # not the file's fault, so not cached: the next try may work
        st.error(f"The server could not store this upload ({getattr(exc, 'strerror', None) or type(exc).__name__}); "
                 "the file itself may be fine. Try again, or ask whoever runs the server to check its disk "
                 "space (uploads go under ARGAE_CACHE_DIR).", icon=":material/error:")
        return "upload:"
    if upload_id is None:
        st.error(report, icon=":material/error:")
        return "upload:"
    st.session_state["upload_report"] = report
    return f"upload:{upload_id}"


def feature_labels(dataset: str) -> dict[str, str] | None:
    """For an upload, "raw" named by what it trains on (a features file, or one-hot ids)."""
    report = st.session_state.get("upload_report")
    if not (dataset.startswith("upload:") and report):
        return None
    from argae_core import uploads
    return {"raw": uploads.raw_feature_label(report)}


def preview(report: dict, features: str) -> None:
    from argae_core import uploads
    cards = [("Nodes", report["nodes"]), ("Edges", report["edges"]), ("Isolated", report["isolated_nodes"]),
             ("Components", report["components"]), ("Feature size", report["feature_size"]),
             ("Classes", report.get("classes") or 0)]
    for column, (label, value) in zip(st.columns(len(cards)), cards):
        column.metric(label, f"{value:,}")
    st.caption(uploads.feature_sentence(report, features))
    for warning in report.get("warnings", []):
        st.warning(warning, icon=":material/info:")
