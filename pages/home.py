"""Home: what ARGA / ARGVA do, in a few lines, and where to go."""
import streamlit as st

from pages import page_setup

page_setup()  # first: see pages/__init__.py

st.title("ARGAE Lab")
st.markdown(
    """
Watch **adversarially regularized graph autoencoders** learn.

A graph autoencoder encodes every node into a latent vector **z** with a graph convolutional
network and learns to rebuild the graph's edges from inner products **z_i · z_j**.
**ARGA / ARGVA** (Pan et al., IJCAI 2018) add a second player: a **discriminator** that learns
to tell samples of the prior **N(0, I)** ("real") from node embeddings ("fake"), while the
encoder is pushed to fool it. The latent cloud **Z** is pulled toward the prior.
**GAE / VGAE** (Kipf & Welling, 2016) are the same autoencoders without the discriminator.
"""
)
# One column, short labels: a page link is one line, and two columns cut them on a laptop.
for page, label, icon in (
        ("pages/train.py", "**Train**: pick a graph and knobs, watch both players live", "model_training"),
        ("pages/latent.py", "**Latent space**: Z against N(0, I), epoch by epoch", "scatter_plot"),
        ("pages/compare.py", "**Compare**: GAE, VGAE, ARGA, ARGVA side by side", "compare"),
        ("pages/runs.py", "**Runs**: reopen, download or delete saved runs", "folder_open"),
        ("pages/learn.py", "**Learn**: the idea, the losses, guided experiments", "school")):
    st.page_link(page, label=label, icon=f":material/{icon}:")
st.caption("Start with KarateClub or the planted-partition graph: both work offline.")
