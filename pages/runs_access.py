"""The Runs page with sign-in: who sees what it holds, who may stop a training or share a run
(the rules are argae_core.access; this draws them)."""
from __future__ import annotations

import streamlit as st

from argae_core import access, runs
from pages import common


def class_controls(run: runs.Run, row, viewer: access.Viewer) -> None:
    """With sign-in: stop a run's training (its owner, from any session, or a teacher) and
    share it with the class (teachers)."""
    if not viewer.signed_in:
        return
    if run.status == "running" and access.may_stop(viewer, run.info.get("owner")):
        if row.button("Stop training", icon=":material/stop_circle:"):
            stopped = common.job_manager().stop_run(run.run_id)
            st.session_state["runs_notice"] = ("success", f"Stopping run `{run.run_id}`.") if stopped else \
                ("error", f"Run `{run.run_id}` is not training on this server's queue (a command-line run?).")
            st.rerun()
    if access.may_share(viewer):
        shared = runs.is_shared(run.path)
        if row.toggle("Shared with the class", value=shared, key=f"runs_share_{run.run_id}") != shared:
            runs.set_shared(run.run_id, not shared)
            st.rerun()


def page_caption(viewer: access.Viewer) -> str:
    """What the Runs page holds, for who is looking."""
    if not viewer.signed_in:
        return ("Every training run on this server is saved here, from the Train page or the command line. "
                "The runs are shared by everyone using the server.")
    if viewer.teacher:
        return "Every run of the class is here: you can open, stop, delete and share any of them."
    return "Your runs, and the runs a teacher shared with the class."
