"""The Train page's Steer panel: change the game of a run while it trains or is paused.

The engine applies a change when the next epoch starts (argae_core/steering.py); this panel
only reads the knobs and sends the change. Each applied change becomes a dashed marker on
every live chart and a line in the run's steering history.
"""
from __future__ import annotations

import math

import streamlit as st

from argae_core import steering
from argae_core.config import FIELDS
from argae_core.steering import STEERABLE, SteeringError
from pages import knobs

WIDGET_WIDTH = 190   # px: four knobs in a row at 1440 px, two rows at 1024
PANEL_HELP = ("GAN Lab style: change the game while it is played. A change takes effect when the next "
              "epoch starts and is drawn as a dashed line on every chart.")


def current(job) -> dict:
    """The settings the job will train with next: applied changes, then the ones still queued."""
    settings = steering.settings_at(job.config, job.steering, math.inf)
    settings.update(job.steer_pending)
    return settings


def panel(manager, job, owner: str) -> None:
    """A small form under the buttons while `job` trains or is paused."""
    if job is None or job.state not in ("running", "paused"):
        return
    settings = current(job)
    knobs = list(STEERABLE) if job.config.adversarial else ["encoder_lr"]
    with st.expander("Steer the game", expanded=True, icon=":material/tune:"):
        st.caption(PANEL_HELP)
        with st.form(f"steer_{job.job_id}", border=False):
            row = st.container(horizontal=True, vertical_alignment="bottom")  # wraps on a narrow screen
            values = {knob: _widget(row, knob, settings[knob], job.job_id) for knob in knobs}
            sent = st.form_submit_button("Apply from the next epoch", icon=":material/call_split:")
        if sent:
            change = {knob: value for knob, value in values.items() if value != settings[knob]}
            if not change:
                st.info("Nothing changed: every knob holds the value the run trains with.")
                return
            try:
                manager.steer(job.job_id, owner, change)
            except SteeringError as exc:
                st.error(str(exc), icon=":material/block:")
                return
            st.success("Sent: " + "; ".join(f"{STEERABLE[k]} -> {steering.show(k, v)}" for k, v in change.items())
                       + f" (from epoch {job.epochs_done + 1} on, or the epoch after an epoch in progress).")


def _widget(column, knob: str, value, job_id: str):
    key = f"steer_{job_id}_{knob}"
    label = STEERABLE[knob].capitalize()
    if knob == "adversary":
        return column.toggle("Adversary on", value=bool(value), key=key, width="content",
                             help="Off: no discriminator updates and no regulariser term; D keeps its "
                                  "weights until it is switched on again.")
    meta = FIELDS[knob].metadata
    if knob == "discriminator_steps":
        return column.number_input(label, min_value=meta["min"], max_value=meta["max"], value=int(value),
                                   step=1, key=key, help=meta["help"], width=WIDGET_WIDTH)
    return column.number_input(label, min_value=float(meta["min"]), max_value=float(meta["max"]),
                               value=float(value), format="%.6g", step=knobs.step_for(float(value) or 1.0),
                               key=key, help=meta["help"], width=WIDGET_WIDTH)


def pending_note(job) -> None:
    """Inside the live part: changes sent but not in effect yet."""
    if job.steer_pending:
        when = f"epoch {job.steer_from}" if job.steer_from else "the next epoch"
        st.caption(":material/schedule: Queued, in effect from " + when + ": " + "; ".join(
            f"{STEERABLE[k]} -> {steering.show(k, v)}" for k, v in job.steer_pending.items()))


def markers(job) -> list[tuple[int, str]]:
    return steering.markers(list(job.steering))


def steered_note(history: list[dict]) -> None:
    """For a saved run's page (its shareable link): that it was steered, where, and how."""
    if history:
        st.warning("**Steered** while it trained: " + " · ".join(map(steering.describe, history))
                   + ". The dashed lines on the charts mark the changes.", icon=":material/call_split:")
