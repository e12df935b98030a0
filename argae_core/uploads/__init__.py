"""Uploaded graphs: plain-text edge lists, node features and labels, checked and explained.

    parsed = parse_upload(edges_bytes, features_bytes, labels_bytes)   # raises UploadError
    parsed.report          # nodes, edges, isolated nodes, components, ... for a preview
    upload_id = save_upload(parsed)                                    # content hash
    load_graph(TrainConfig(dataset=f"upload:{upload_id}"))             # -> load_upload(id)

Only text is read: no pickle, no eval. Every refusal is an `UploadError` that names the
file and, where it helps, the line. Uploads are stored as JSON + an `.npz` of plain arrays
under `<cache dir>/uploads/<id>/`, so another process (a background job) can reload them.

One job a module, in the order the bytes travel:
    decoding   bytes -> text (encodings, binary and markup refused), data lines
    sniffing   the delimiter and how a line splits; what a header cell looks like
    edges, features, labels   the three readers
    parse      the files together -> Graph + report (node order, split check, features)
    messages   UploadError and the sentences every reader shares
    store      save / load under the cache dir
Reading stands on `graph` (Graph, the split), never on `data` (the sources), which loads
an upload through `load_upload`.
"""
from ..graph import MIN_SPLIT_EDGES
from .messages import UploadError
from .parse import (DEFAULT_MAX_BYTES, IDENTITY_UPLOAD_LIMIT, ParsedUpload, both_directions,
                    feature_sentence, parse_upload, raw_feature_label)
from .store import load_upload, save_upload, uploads_dir

__all__ = ["DEFAULT_MAX_BYTES", "IDENTITY_UPLOAD_LIMIT", "MIN_SPLIT_EDGES", "ParsedUpload",
           "UploadError", "both_directions", "feature_sentence", "load_upload", "parse_upload",
           "raw_feature_label", "save_upload", "uploads_dir"]
