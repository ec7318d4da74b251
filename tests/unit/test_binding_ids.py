"""Every key has a binding id a keymap can name, each id means one key, and README lists them."""

import importlib
import inspect
from pathlib import Path

from textual.binding import Binding

ROOT = Path(__file__).resolve().parents[2]


def bindings() -> dict[str, set[tuple[str, str]]]:
    """id -> {(key, action)} over every class of the app that declares BINDINGS."""
    found: dict[str, set[tuple[str, str]]] = {}
    for path in (ROOT / "clinic_tui").rglob("*.py"):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        if name.endswith("__main__"):
            continue
        for _, cls in inspect.getmembers(importlib.import_module(name), inspect.isclass):
            for b in cls.__dict__.get("BINDINGS", []):
                if isinstance(b, Binding) and b.id:
                    action = b.action.split("(", 1)[-1] if b.action.startswith("panel(") else b.action
                    found.setdefault(b.id, set()).add((b.key, action))
    return found


def test_each_binding_id_is_one_key_and_documented():
    found = bindings()
    assert {"alert.acknowledge", "chart.1y", "app.quit", "table.select"} <= found.keys()
    readme = (ROOT / "README.md").read_text()
    for binding_id, uses in found.items():
        assert len({key for key, _ in uses}) == 1, f"{binding_id} is declared with different keys: {uses}"
        assert f"`{binding_id}`" in readme, f"README's binding id table lacks {binding_id}"


def test_the_alert_keys_are_the_same_bindings_on_the_queue_and_the_patient_screen():
    from clinic_tui.views.alerts import AlertQueueScreen
    from clinic_tui.views.patient import PatientScreen

    def alert_ids(cls):
        return [b.id for b in cls.BINDINGS if b.id and b.id.startswith("alert.")]

    assert (
        alert_ids(AlertQueueScreen)
        == alert_ids(PatientScreen)
        == [
            "alert.acknowledge",
            "alert.resolve",
            "alert.escalate",
            "alert.snooze",
            "alert.unsnooze",
        ]
    )
