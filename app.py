"""ARGAE Lab: entry point. Page config, navigation, and the session heartbeat; nothing heavy."""
import streamlit as st

from pages import common

st.set_page_config(page_title="ARGAE Lab", page_icon="assets/icon.svg", layout="wide")

PAGES = [
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
    st.Page("pages/compare.py", title="Compare", icon=":material/compare:"),
    st.Page("pages/latent.py", title="Latent space", icon=":material/scatter_plot:"),
    st.Page("pages/runs.py", title="Runs", icon=":material/folder_open:"),
    st.Page("pages/learn.py", title="Learn", icon=":material/school:"),
]

common.start_background_services()
common.heartbeat()
st.navigation(PAGES).run()
