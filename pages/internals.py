"""Everything the dashboard takes from Streamlit's internals, in one place. Streamlit
documents no API for these (1.67): which session a script run serves, whether a browser
session is still connected, whether the server is a real one (not AppTest), and leaving the
old pages/-folder mode on a fresh server's first deep link (st.navigation's documented
switch happens only once a session has run app.py). tests/test_streamlit_internals.py fails
loudly if any of them moves in a new Streamlit."""
from __future__ import annotations

from streamlit.runtime import Runtime
from streamlit.runtime.pages_manager import PagesManager
from streamlit.runtime.scriptrunner import get_script_run_ctx


def real_server() -> bool:
    """Under `streamlit run` (AppTest runs pages on a runtime of another class, on purpose)."""
    return Runtime.exists() and type(Runtime.instance()) is Runtime


def session_id() -> str:
    ctx = get_script_run_ctx()
    return ctx.session_id if ctx else "no-session"


def session_alive(session: str) -> bool | None:
    """Whether a browser session is still connected; None when not under a real server."""
    try:
        runtime = Runtime.instance()
    except RuntimeError:  # no server (tests, bare mode)
        return None
    verdict = runtime.is_active_session(session)
    return verdict if isinstance(verdict, bool) else None


def in_pages_folder_mode() -> bool:
    """Whether this run was routed by the pages/ folder (every file listed as a page)."""
    ctx = get_script_run_ctx()
    listed = ctx.pages_manager.get_pages().values() if ctx else ()
    folder_mode = any(str(page.get("script_path", "")).endswith("common.py") for page in listed)
    return bool(PagesManager.uses_pages_directory) or folder_mode


def leave_pages_folder_mode() -> None:
    """Route the server by app.py's st.navigation from now on (for every session)."""
    PagesManager.uses_pages_directory = False
