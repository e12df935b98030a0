"""Steering the game while it is played: changes of a few knobs between two epochs.

While a run trains (or is paused) the regulariser weight, both learning rates, the
discriminator's steps per epoch and the adversary itself (on / off) can be changed, as GAN
Lab lets you. A change is queued with `Trainer.steer(change)` and applied when the next
epoch starts (never inside one), so "from epoch 121 on" means what it says. Every applied
change is one entry of the run's steering history:

    {"epoch": 121, "changes": {"reg_weight": [0.25, 1.0]}}      # from epoch 121, old -> new

saved with the run as `steering.json` (records.csv stays as it was: its columns are the
losses; the setting in effect at any epoch is `settings_at(config, history, epoch)`).
A history replays: `Trainer(config, plan=history)` applies the same changes at the same
epochs, which is how the CLI's `--steer 120:reg_weight=1` and exported scripts steer.

Adversary off: no discriminator updates and no regulariser term in the encoder loss (the
discriminator keeps its weights and comes back where it was when switched on again).
"""
from __future__ import annotations

import json
import math
from pathlib import Path

from .config import FIELDS, TrainConfig

# knob -> what a person calls it (markers, the Runs page, the CLI's help)
STEERABLE = {
    "reg_weight": "regulariser weight",
    "encoder_lr": "encoder learning rate",
    "discriminator_lr": "discriminator learning rate",
    "discriminator_steps": "discriminator steps",
    "adversary": "adversary",
}
ADVERSARY_ONLY = ("reg_weight", "discriminator_lr", "discriminator_steps", "adversary")
FILE_NAME = "steering.json"
ON_WORDS, OFF_WORDS = ("on", "true", "1", "yes"), ("off", "false", "0", "no")


class SteeringError(ValueError):
    """A change that cannot be applied; the message says which knob and why."""


def initial_settings(config: TrainConfig) -> dict:
    """The steerable settings a run starts with (the regulariser weight as it takes effect)."""
    return {"reg_weight": config.effective_reg_weight(), "encoder_lr": float(config.encoder_lr),
            "discriminator_lr": float(config.discriminator_lr),
            "discriminator_steps": int(config.discriminator_steps), "adversary": config.adversarial}


def check_change(config: TrainConfig, change: dict) -> dict:
    """`change` with its values read (numbers, on / off) and inside TrainConfig's own bounds,
    else SteeringError. A model without a discriminator can only change its learning rate."""
    if not isinstance(change, dict) or not change:
        raise SteeringError("a change names at least one knob, e.g. reg_weight=1")
    out = {}
    for knob, value in change.items():
        if knob not in STEERABLE:
            raise SteeringError(f"{knob!r} cannot be steered; choose from {', '.join(STEERABLE)}")
        if knob in ADVERSARY_ONLY and not config.adversarial:
            raise SteeringError(f"{config.model.upper()} has no discriminator: {STEERABLE[knob]} "
                                "cannot be changed (pick ARGA or ARGVA)")
        out[knob] = _adversary(value) if knob == "adversary" else _number(knob, value)
    return out


def _adversary(value) -> bool:
    if isinstance(value, bool):
        return value
    if str(value).strip().lower() in ON_WORDS:
        return True
    if str(value).strip().lower() in OFF_WORDS:
        return False
    raise SteeringError(f"adversary is on or off, got {value!r}")


def _number(knob: str, value):
    meta, whole = FIELDS[knob].metadata, knob == "discriminator_steps"
    try:
        if isinstance(value, bool):
            raise ValueError
        number = float(value)
    except (TypeError, ValueError):
        raise SteeringError(f"{STEERABLE[knob]}: {value!r} is not a number") from None
    if not math.isfinite(number) or (whole and not number.is_integer()):
        raise SteeringError(f"{STEERABLE[knob]}: {value!r} is not a {'whole ' if whole else ''}number")
    if not meta["min"] <= number <= meta["max"]:
        raise SteeringError(f"{STEERABLE[knob]} goes from {meta['min']:g} to {meta['max']:g}, got {number:g}")
    return int(number) if whole else number


def apply(trainer, change: dict) -> dict | None:
    """Put `change` into effect on `trainer` (its settings, the optimizers' learning rates,
    its regulariser weight) at the epoch it is starting; the history entry, or None when
    nothing actually changes."""
    moved = {knob: [trainer.settings[knob], value] for knob, value in change.items()
             if trainer.settings[knob] != value}
    if not moved:
        return None
    for knob, (_, value) in moved.items():
        trainer.settings[knob] = value
    for optimizer, knob in ((trainer.encoder_optimizer, "encoder_lr"),
                            (trainer.discriminator_optimizer, "discriminator_lr")):
        if optimizer is not None and knob in moved:
            for group in optimizer.param_groups:
                group["lr"] = trainer.settings[knob]
    trainer.reg_weight = trainer.settings["reg_weight"]
    return {"epoch": trainer.epoch, "changes": moved}


def schedule_of(history: list[dict]) -> dict[int, dict]:
    """epoch -> {knob: new value}: a history (or a CLI plan) as changes to apply."""
    plan: dict[int, dict] = {}
    for entry in history:
        plan.setdefault(int(entry["epoch"]), {}).update(
            {knob: values[1] if isinstance(values, (list, tuple)) else values
             for knob, values in entry["changes"].items()})
    return plan


def settings_at(config: TrainConfig, history: list[dict], epoch: int) -> dict:
    """The steerable settings in effect during `epoch`."""
    settings = initial_settings(config)
    for entry in sorted(history, key=lambda e: e["epoch"]):
        if entry["epoch"] <= epoch:
            settings.update({knob: values[1] for knob, values in entry["changes"].items()})
    return settings


def discriminator_updates_ahead(config: TrainConfig, history: list[dict], pending: dict | None = None) -> int:
    """The discriminator updates of the next epoch to start: the steps in effect after
    `history`, with the changes `pending` (sent, in effect from the next epoch) on top;
    0 while the adversary is off (or the model has none)."""
    settings = settings_at(config, history, math.inf)
    settings.update(pending or {})
    return int(settings["discriminator_steps"]) if config.adversarial and settings["adversary"] else 0


# ------------------------------------------------------------------ words
def show(knob: str, value) -> str:
    if knob == "adversary":
        return "on" if value else "off"
    return f"{value:g}" if isinstance(value, float) else str(value)


def describe(entry: dict) -> str:
    """'epoch 120: regulariser weight 0.25 -> 1; adversary on -> off'."""
    parts = [f"{STEERABLE[knob]} {show(knob, old)} -> {show(knob, new)}"
             for knob, (old, new) in entry["changes"].items()]
    return f"epoch {entry['epoch']}: " + "; ".join(parts)


def markers(history: list[dict]) -> list[tuple[int, str]]:
    """(epoch, label) per change, for the charts' vertical markers."""
    return [(int(entry["epoch"]), describe(entry)) for entry in history]


def steered_epochs(history: list[dict]) -> str:
    """'120, 300' (the Runs page, a shared link's note); '' for a run never steered."""
    return ", ".join(str(entry["epoch"]) for entry in history)


def parse_plan(text: str) -> tuple[int, dict]:
    """A CLI plan item 'EPOCH:knob=value[,knob=value]' as (epoch, raw change); SteeringError."""
    epoch_text, sep, body = text.partition(":")
    if not sep or not epoch_text.strip().isdigit() or int(epoch_text) < 1 or not body.strip():
        raise SteeringError(f"{text!r}: write EPOCH:knob=value[,knob=value], e.g. 120:reg_weight=1")
    change = {}
    for item in body.split(","):
        knob, eq, value = item.partition("=")
        if not eq:
            raise SteeringError(f"{item!r}: write knob=value")
        change[knob.strip().replace("-", "_")] = value.strip()
    return int(epoch_text), change


def plan_history(config: TrainConfig, items: list[str]) -> list[dict]:
    """CLI plan items as a history to replay (new values only; checked against `config`)."""
    history = []
    for item in items:
        epoch, change = parse_plan(item)
        if epoch > config.epochs:
            raise SteeringError(f"{item!r}: the run has only {config.epochs} epochs")
        history.append({"epoch": epoch, "changes": check_change(config, change)})
    return history


# ------------------------------------------------------------------ on disk
def to_json(history: list[dict]) -> bytes:
    return json.dumps({"changes": history}, indent=1).encode()


def load(folder: Path, config: TrainConfig) -> list[dict]:
    """A run's steering history ([] when never steered), checked like user input:
    SteeringError for a damaged file."""
    path = Path(folder) / FILE_NAME
    if not path.exists():
        return []
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))["changes"]
        history = []
        for entry in entries:
            epoch, changes = entry["epoch"], entry["changes"]
            if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 1 or not isinstance(changes, dict):
                raise ValueError("an entry without a positive epoch and its changes")
            new = check_change(config, {knob: values[1] for knob, values in changes.items()})
            old = {knob: _adversary(v[0]) if knob == "adversary" else _number(knob, v[0])
                   for knob, v in changes.items()}
            history.append({"epoch": epoch, "changes": {k: [old[k], new[k]] for k in new}})
        return history
    except SteeringError as exc:
        raise SteeringError(f"{FILE_NAME}: {exc}") from None
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, IndexError, RecursionError) as exc:
        raise SteeringError(f"{FILE_NAME} is not a readable steering history ({type(exc).__name__})") from None
