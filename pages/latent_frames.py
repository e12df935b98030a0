"""Which frame the Latent page draws: the UMAP frame of an epoch (drawn ahead by the server's
picture process, a live run's newest by its live picture process, or computed here in the
background) or PCA standing in until it is ready; no drawing here (pages/latent_views.py)."""
from __future__ import annotations

from argae_core import ahead, pictures, projection, runs
from argae_core.frames import frame_now
from pages import common, internals
from pages.latent_data import Source, root, snapshot

METHOD_LABELS = {"umap": "UMAP", "pca": "PCA (instant)"}
DIMENSION_LABELS = {2: "2-D", 3: "3-D"}
# This machine's figures (benchmarks/bench_projection.py, bench_live_umap.py; README, Measured)
FRAME_NOTE = "about 2 s while a run trains, 3 s for a first picture"
FIRST_NOTE = "1-2 s on this machine"
# The live picture process (argae_core.ahead.request_live), below the trainings, a quarter of a core
LIVE_NOTE = "about 2 s after its snapshot on this machine, at most a quarter of a core beside the training"
LIVE_START_NOTE = "a few seconds, once per server"
QUICK = "A quick UMAP layout"   # its axes are not the full layout's: a chart of its own
READY_NOTE = ("its code compiles once per install, 20-40 s on the 2-core machine this was measured on, "
              "`python -m argae_core warm` does it at install time; then it loads in about 1 s")


# ------------------------------------------------------------------ frames
def projector_of(source: Source, view: dict, method: str | None = None):
    """(Projector, FrameFiller) of the source's run for the view (its number of dimensions)."""
    return common.latent_projector(root(), source.run_id, method or view["method"], view["seed"], view["cap"],
                                   view["dims"])


def frame_for(source: Source, epoch: int, view: dict) -> tuple[projection.Projection | None, str | None]:
    """The frame to draw and a note: UMAP frames are computed in the background, and PCA
    (instant) stands in until the one asked for is ready."""
    projector, filler = projector_of(source, view)
    if epoch in filler.errors:
        return None, filler.errors[epoch]
    if epoch in projector.frames:
        return projector.frames[epoch], None
    key = pictures.PictureKey(source.run_id, pictures.SNAPSHOT, epoch, "umap", view["seed"], view["cap"])
    if view["method"] == "umap" and view["dims"] == 2:  # drawn ahead, or by the live picture process?
        entry = pictures.load_entry(key, root())
        if entry is not None and not pictures.is_quick(key, entry[1]):
            return projector.adopt(epoch, entry[0]), None
        if entry is not None and source.live:   # a live run's first picture: the next one refines it
            return entry[0], None
        if entry is not None and not (ahead.answer(key, root()) or "").startswith("failed"):
            return entry[0], QUICK + "; the full picture replaces it in seconds."
    pca_projector, _ = projector_of(source, view, "pca")
    try:
        stand_in = pca_frame(pca_projector, epoch, source)
    except (ValueError, runs.RunError) as exc:  # a diverged Z, a deleted run
        return None, str(exc)
    if view["method"] == "pca":
        return stand_in, None
    if not source.live and ask_picture_process(source, epoch, view):
        projection.warm_up()   # this process loads umap meanwhile, for the frames after this one
        return stand_in, f"Drawing the UMAP picture of epoch {epoch} ({FIRST_NOTE}); PCA is shown meanwhile."
    newest = source.live and epoch == source.epochs[-1]
    if newest and view["dims"] == 2 and internals.real_server() and ahead.request_live(key, root()) \
            and not live_failed(key):
        return stand_in, (f"Drawing the UMAP picture of epoch {epoch} ({LIVE_NOTE}); PCA is shown meanwhile."
                          if ahead.live_ready() else
                          f"Starting the live picture process ({LIVE_START_NOTE}); PCA is shown meanwhile.")
    filler.ask(epoch, source.epochs, newest_only=newest)
    if projection.is_warm():
        return stand_in, f"Computing the UMAP picture of epoch {epoch} ({FRAME_NOTE}); PCA is shown meanwhile."
    return stand_in, (f"UMAP is getting ready on this server ({READY_NOTE}). PCA is shown meanwhile; "
                      "the UMAP picture replaces it on its own.")


def ask_picture_process(source: Source, epoch: int, view: dict) -> bool:
    """While umap is not loaded here, the server's warm picture process draws the 2-D picture
    (argae_core.ahead); False for 3-D, where none runs, it could not draw this one, or umap is
    loaded here and the picture was not asked of it already."""
    if view["dims"] != 2 or not internals.real_server() or not ahead.is_ready():
        return False   # the picture process draws 2-D pictures only: a 3-D frame is computed here
    key = pictures.PictureKey(source.run_id, pictures.SNAPSHOT, epoch, "umap", view["seed"], view["cap"])
    if projection.is_warm() and not ahead.asked(key, root()):
        return False   # umap is loaded here: the frame filler draws it, warm-started from its neighbour
    return ahead.request(key, root(), priority=ahead.NOW) and not (ahead.answer(key, root()) or "").startswith("failed")


def newest_drawn(source: Source, epoch: int, view: dict, reach: int = 12) -> tuple[int, projection.Projection] | None:
    """(epoch, UMAP frame) of the newest snapshot before `epoch` already drawn (by this page's
    filler or the live picture process), among the `reach` before it: while a run trains, a
    snapshot comes every few seconds and its picture a second or two later, so the newest is
    rarely drawn yet, and PCA in its place reshuffled the picture at every snapshot."""
    projector, _ = projector_of(source, view)
    for earlier in [e for e in source.epochs if e < epoch][-reach:][::-1]:
        if earlier in projector.frames:
            return earlier, projector.frames[earlier]
        if view["dims"] == 2:
            entry = pictures.load_entry(pictures.PictureKey(source.run_id, pictures.SNAPSHOT, earlier, "umap",
                                                            view["seed"], view["cap"]), root())
            if entry is not None:
                return earlier, entry[0]
    return None


def live_failed(key: pictures.PictureKey) -> bool:
    """Whether the live picture could not be drawn (computed here then, where the error shows),
    not merely skipped for a newer snapshot."""
    said = ahead.answer(key, root(), live=True) or ""
    return said.startswith("failed") and "skipped:" not in said


def pca_frame(projector, epoch: int, source: Source) -> projection.Projection:
    return frame_now(projector, epoch, lambda e: snapshot(root(), source.run_id, e)[0])


def pending(source: Source, epoch: int, view: dict) -> bool:
    """Whether the UMAP frame on screen is still being computed."""
    if view["method"] != "umap":
        return False
    _, filler = projector_of(source, view, "umap")
    return filler.pending(epoch)
