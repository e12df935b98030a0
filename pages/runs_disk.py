"""The Runs page's disk budgets (argae_core.runs.budget): the folder's size against its
budget, and a run's snapshots dropped to keep them."""
from __future__ import annotations

import streamlit as st

from argae_core import runs
from pages import signin

MB = runs.budget.MB


def folder_note(summaries: list[runs.RunSummary]) -> None:
    """The runs folder's total against its budget, the per-run budget, and what was dropped."""
    signin.adopt_disk_budgets()
    budget = runs.budget.budgets()
    total = sum(s.disk_bytes for s in summaries) / MB
    dropped = sum(s.snapshots_dropped for s in summaries)
    runs_with = sum(s.snapshots_dropped > 0 for s in summaries)
    mb = runs.budget.megabytes
    text = (f"Runs folder: **{mb(total)} MB of its {mb(budget.runs_mb)} MB budget** ({total / budget.runs_mb:.0%}; "
            f"`{runs.budget.RUNS_ENV}`), each run at most {mb(budget.run_mb)} MB (`{runs.budget.RUN_ENV}`). ")
    text += (f"{dropped:,} snapshot(s) of {runs_with} run(s) were dropped to stay within them, the oldest first "
             "(column *dropped*); final Z, metrics and config are always kept." if dropped else
             "No snapshot has been dropped: over a budget, the oldest snapshots go first (never a run's "
             "final Z, metrics or config, nor its newest snapshot).")
    over = total > budget.runs_mb
    (st.warning if over else st.caption)(
        text + (" The folder is over its budget even so: what is left is each run's newest snapshot, final Z, "
                "weights and records; delete runs to free space." if over else ""),
        **({"icon": ":material/storage:"} if over else {}))
    for problem in budget.problems:
        st.warning(problem, icon=":material/report:")


def dropped_warning(run: runs.Run) -> None:
    """Which of the run's snapshots were dropped, and why (nothing when none were)."""
    if not run.dropped_epochs:
        return
    epochs = sorted(run.dropped_epochs)
    shown = ", ".join(map(str, epochs[:12])) + (f" and {len(epochs) - 12} more" if len(epochs) > 12 else "")
    st.warning(f"{len(epochs)} of this run's snapshots (epoch {shown}) were "
               f"{runs.budget.drop_note(run.dropped_epochs[epochs[-1]])}, the oldest first. The Latent page shows "
               f"the {len(run.snapshot_epochs)} kept; the final Z, metrics, config and records are all here.",
               icon=":material/delete_sweep:")
