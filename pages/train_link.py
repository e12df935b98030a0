"""The Train page's link: the URL holds its settings, or names a saved run shown read-only."""
from __future__ import annotations

import streamlit as st

from argae_core import access, runs
from argae_core.config import ConfigError, TrainConfig
from argae_core.saved_run import SavedRun
from pages import knobs, signin, steer

RUN_PARAM = "run"   # ?run=<id>: the link of a saved run shown read-only


def viewed_run() -> SavedRun | None:
    """The saved run this page shows: named by the URL (a shared link) or sent by the Runs
    page (`view_run`). One that cannot be read is said so and dropped."""
    run_id = st.query_params.get(RUN_PARAM) or st.session_state.get("view_run")
    if not run_id:
        return None
    try:
        run = SavedRun.load(run_id)
    except runs.RunError as exc:
        st.session_state["url_problem"] = f"The saved run `{run_id}` cannot be shown: {exc}."
        leave_run()
        return None
    if not access.may_see(signin.viewer(), run.owner, run.shared):   # sign-in: own and shared runs only
        st.session_state["url_problem"] = access.refusal(signin.viewer(), run_id)
        leave_run()
        return None
    st.session_state["view_run"] = run.run_id
    return run


def leave_run() -> None:
    st.session_state.pop("view_run", None)
    if RUN_PARAM in st.query_params:
        del st.query_params[RUN_PARAM]


# ------------------------------------------------------------------ the config
def initial_config() -> TrainConfig:
    """The URL's settings when it has valid ones, else the defaults (with a message)."""
    query = {k: st.query_params[k] for k in st.query_params if k != RUN_PARAM}
    if not query:
        return TrainConfig()
    try:
        return TrainConfig.from_query(query)
    except ConfigError as exc:
        st.session_state["url_problem"] = (
            "The link's settings could not be used, so the defaults are shown: "
            + "; ".join(f"{k}: {v}" for k, v in exc.problems.items()))
        return TrainConfig()


def run_banner(run: SavedRun) -> None:
    """Say that the page shows a saved run, read-only, and offer the two ways on."""
    st.info(f"Showing the saved run `{run.run_id}`, **read-only**: the sidebar and the line below show "
            "its own settings, and this page's link reopens it. Your own training, if any, goes on in "
            "the background.", icon=":material/folder_open:")
    steer.steered_note(list(run.steering))
    row = st.container(horizontal=True)
    if row.button("Train a new run from these settings", icon=":material/restart_alt:", width="content",
                  help="Copy this run's settings into the sidebar, editable; nothing starts until you press Start."):
        knobs.use_config(run.config)
        st.session_state["config_note"] = (f"The sidebar holds the settings of run `{run.run_id}`: change any, "
                                           "then press **Start** to train a new run.")
        leave_run()
        st.rerun()
    if row.button("Back to live", icon=":material/arrow_back:", width="content",
                  help="Back to your own settings and training."):
        leave_run()
        st.rerun()
