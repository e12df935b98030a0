"""Saved runs on disk: one folder per run under `runs_dir()`, written atomically.

    <root>/<run_id>/
        status.json          running / finished / stopped / diverged / failed, pid, heartbeat, summary
        config.json          the TrainConfig
        graph.json, graph.npz  graph summary, node ids, class names; labels and degrees (for exports)
        records.csv          one row per epoch (EpochRecord.row())
        snapshot_nodes.npz   the nodes every snapshot keeps, on graphs above `snapshot_nodes` (none: all)
        snapshots/epoch_00010.npz  Z (and D(z) per node) at snapshot epochs
        snapshots/epoch_00010.dropped.json  in its place once dropped to keep a disk budget (budget.py)
        embedding.npz        Z at the best-validation epoch, the one the final metrics score
        metrics.json         final metrics
        steering.json        changes made while it trained (argae_core/steering.py), if any
        model.pt             torch.save(state_dict), read back with weights_only=True

Every file is written to a temporary file in the same folder, fsynced and renamed over
the old one, so a killed process leaves either the old or the new version, never half
of one. Nothing is unpickled: JSON, CSV, `np.load(allow_pickle=False)` and
`torch.load(weights_only=True)`. A run whose writer died (its process is gone, or its
heartbeat is old) is reported as "incomplete" with the epochs its records hold.
Everything read back is checked like user input (types, counts, shapes); a damaged file
raises `RunError`, which the listing turns into a warning naming the run.

torch is imported only where weights are saved or loaded, so listing runs stays light.

One job a module: `folder` (where runs live, names, RunError), `writer` (RunWriter,
record_run), `reader` (list_runs, load_run, records, snapshots), `liveness` (is the writer
alive), `export` (CSV / JSON / npz / zip downloads, deletion), `budget` (the per-run and the
runs-folder disk budgets: the oldest snapshots dropped first, a marker left for each). Files go through `storage`.
"""
from ..records import SUMMARY_METRICS
from ..storage import PROJECT_DIR
from .export import (delete_run, export_config_json, export_embeddings, export_records_csv,
                     export_zip, spreadsheet_safe)
from .folder import (DISCRIMINATOR_PREFIX, FINAL_STATUSES, LEFTOVER_SECONDS, RunError, check_run_id,
                     runs_dir)
from .liveness import _now, _process_start
from . import budget
from .reader import (GraphInfo, Run, RunSummary, dataset_label, dropped_snapshots, list_runs, load_run,
                     read_records)
from .sharing import SHARED_MARK, is_shared, set_shared
from .writer import RunWriter, new_run_id, record_run

__all__ = ["DISCRIMINATOR_PREFIX", "FINAL_STATUSES", "SHARED_MARK", "LEFTOVER_SECONDS", "PROJECT_DIR",
           "SUMMARY_METRICS", "GraphInfo", "Run", "RunError", "RunSummary", "RunWriter",
           "_now", "_process_start", "budget", "check_run_id", "dataset_label", "delete_run", "dropped_snapshots",
           "export_config_json", "export_embeddings", "export_records_csv", "export_zip", "is_shared",
           "list_runs", "load_run", "new_run_id", "read_records", "record_run", "runs_dir", "set_shared",
           "spreadsheet_safe"]
