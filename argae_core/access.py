"""Who may do what with a run, when the dashboard has sign-in (Streamlit's `st.login` with an
OpenID Connect provider). Pure rules: pages build a `Viewer` and ask these functions.

    no sign-in configured   one user (a laptop): everything is allowed, as without this module
    student                 sees, opens, deletes and stops their own runs; sees and opens the
                            runs a teacher shared with the class
    teacher                 (listed in ARGAE_TEACHERS or secrets [argae] teachers) sees and
                            manages every run, stops any training, shares runs with the class

A run's owner is the signed-in email of whoever started it, saved in its status.json. A run
with no owner (the command line, or saved before sign-in was configured) is the teachers'.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

TEACHERS_ENV = "ARGAE_TEACHERS"   # comma- or space-separated emails


@dataclass(frozen=True)
class Viewer:
    """Who looks at a page. `email` None: sign-in is not configured (one user, all allowed)."""
    email: str | None = None
    teacher: bool = False

    @property
    def signed_in(self) -> bool:
        return self.email is not None

    @property
    def role(self) -> str:
        return "teacher" if self.teacher else "student"


NOBODY_SIGNED_IN = Viewer()   # the laptop default


def normal_email(email: str | None) -> str | None:
    """Emails compare without case or surrounding blanks; empty is none."""
    email = (email or "").strip().lower()
    return email or None


def teachers_from(env_value: str | None = None, configured: Iterable[str] | str | None = None) -> frozenset[str]:
    """The teachers' emails from the environment variable's text and the secrets' list."""
    names = (env_value or "").replace(",", " ").split()
    if isinstance(configured, str):
        configured = configured.replace(",", " ").split()
    names += list(configured or [])
    return frozenset(e for e in map(normal_email, names) if e)


def viewer_from(claims: dict | None, teachers: frozenset[str]) -> Viewer:
    """The viewer of a signed-in user's identity claims (email, else the subject)."""
    email = normal_email((claims or {}).get("email") or (claims or {}).get("sub"))
    if email is None:
        raise ValueError("the identity provider sent neither an email nor a subject")
    return Viewer(email, email in teachers)


def _mine(viewer: Viewer, owner: str | None) -> bool:
    return normal_email(owner) is not None and normal_email(owner) == viewer.email


def may_manage(viewer: Viewer, owner: str | None) -> bool:
    """Delete the run, stop its training: its owner and the teachers."""
    return not viewer.signed_in or viewer.teacher or _mine(viewer, owner)


def may_see(viewer: Viewer, owner: str | None, shared: bool = False) -> bool:
    """List it, open it in the Train or Latent page, download it."""
    return may_manage(viewer, owner) or bool(shared)


may_delete = may_stop = may_manage


def may_share(viewer: Viewer) -> bool:
    """Share a run with the class (or stop sharing it): teachers, when sign-in is on."""
    return viewer.signed_in and viewer.teacher


def visible(viewer: Viewer, summaries: list) -> list:
    """The runs (anything with `owner` and `shared`) this viewer may see, in their order."""
    return [s for s in summaries if may_see(viewer, s.owner, s.shared)]


def refusal(viewer: Viewer, run_id: str) -> str:
    """What a viewer is told about a run they may not open (it may exist or not: no hint)."""
    return (f"The run `{run_id}` is not one of yours and was not shared with the class, so it "
            f"cannot be shown to {viewer.email}. Ask its owner or a teacher to share it.")
