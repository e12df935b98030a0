"""The dashboard's pages (app.py lists them with st.navigation).

`page_setup` lives here, not in `common`, because it must run before a page imports the
engine: importing torch and PyG takes seconds on a fresh server, and until `page_setup`
runs, a deep link is shown in Streamlit's pages/-folder mode (every file listed as a page).
"""
from __future__ import annotations

import streamlit as st
from streamlit.runtime import Runtime
from streamlit.runtime.pages_manager import PagesManager
from streamlit.runtime.scriptrunner import get_script_run_ctx


def page_setup() -> None:
    """First call of every page. A folder named pages/ makes Streamlit start in its old
    multipage mode: a deep link such as /train on a fresh server would run that page alone,
    without app.py's navigation, page config and heartbeat. Switch the server to app.py's
    st.navigation and rerun, so the link opens as intended. (Not at import time: a rerun
    raised during an import breaks a second session importing the module at that moment.)"""
    if not Runtime.exists() or type(Runtime.instance()) is not Runtime:
        return  # AppTest: it runs pages directly on purpose
    ctx = get_script_run_ctx()
    listed = ctx.pages_manager.get_pages().values() if ctx else ()
    folder_mode = any(str(page.get("script_path", "")).endswith("common.py") for page in listed)
    if PagesManager.uses_pages_directory or folder_mode:  # folder mode lists every file
        PagesManager.uses_pages_directory = False
        st.rerun()
