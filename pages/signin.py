"""Sign-in for a shared server: Streamlit's st.login / st.user / st.logout with the OpenID
Connect provider of secrets.toml's [auth] section. Without that section (the laptop default)
nobody signs in and everything is allowed. The rules are argae_core.access; this module only
says who the session is. Light (no torch): app.py calls `require_sign_in` on every run."""
from __future__ import annotations

import os

import streamlit as st
from streamlit.errors import StreamlitSecretNotFoundError

from argae_core import access


def _secrets_section(name: str) -> dict:
    try:
        return dict(st.secrets.get(name) or {})
    except (StreamlitSecretNotFoundError, FileNotFoundError):  # no secrets.toml: the laptop default
        return {}


def adopt_disk_budgets() -> None:
    """secrets.toml's [argae] run_disk_mb / runs_disk_mb into the environment where the
    variables are unset: the run writers (argae_core.runs.budget), started later in worker
    threads or processes, read the environment."""
    from argae_core.runs import budget
    budget.adopt_secrets(_secrets_section("argae"))


def sign_in_configured() -> bool:
    """Streamlit's [auth] section is in secrets.toml (st.login then works)."""
    return bool(_secrets_section("auth"))


def viewer() -> access.Viewer:
    """Who this session is: nobody in particular without sign-in; else the signed-in user, a
    teacher when listed in ARGAE_TEACHERS or in secrets.toml's [argae] teachers."""
    if not sign_in_configured() or not st.user.is_logged_in:
        return access.NOBODY_SIGNED_IN
    teachers = access.teachers_from(os.environ.get(access.TEACHERS_ENV), _secrets_section("argae").get("teachers"))
    return access.viewer_from(st.user.to_dict(), teachers)


def require_sign_in() -> None:
    """With sign-in configured: a visitor not signed in sees only a sign-in button (the page
    stops); a signed-in one sees who they are and a sign-out button in the sidebar."""
    if not sign_in_configured():
        return
    if not st.user.is_logged_in:
        st.title("ARGAE Lab")
        st.info("This server is shared by a class: sign in to train and to see your runs.",
                icon=":material/login:")
        if st.button("Sign in", type="primary", icon=":material/login:"):
            st.login()
        st.stop()
    try:
        who = viewer()
    except ValueError as exc:   # a provider that names nobody: say so, do not guess
        st.error(f"Signing in did not say who you are ({exc}). Sign out and try again.")
        st.button("Sign out", on_click=st.logout)
        st.stop()
    st.sidebar.caption(f"Signed in as **{who.email}** ({who.role})")
    st.sidebar.button("Sign out", icon=":material/logout:", on_click=st.logout, key="sign_out")
