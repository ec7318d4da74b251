"""Remembered sessions: the refresh token lives in the OS keyring, never in a file.

Where no keyring backend exists the session is simply not remembered (and the UI says so).
"""

from __future__ import annotations

import json
import logging

SERVICE = "clinic-tui"
log = logging.getLogger(__name__)


def _keyring():
    import keyring  # imported lazily: it scans entry points, which costs start-up time

    return keyring


def available() -> bool:
    """Is there a real keyring backend (not the 'fail' or 'null' one)?"""
    try:
        ring = _keyring().get_keyring()
    except Exception:  # noqa: BLE001 - a broken keyring setup means "not available"
        return False
    name = type(ring).__module__ + "." + type(ring).__name__
    if "fail" in name.lower() or "null" in name.lower():
        return False
    return getattr(ring, "priority", 1) > 0


def load(server_id: str) -> tuple[str, str] | None:
    """Return (username, refresh_token) remembered for this server, if any."""
    if not available():
        return None
    try:
        raw = _keyring().get_password(SERVICE, server_id)
    except Exception as exc:  # noqa: BLE001
        log.warning("keyring read failed: %s", exc)
        return None
    if not raw:
        return None
    try:
        data = json.loads(raw)
        return data["username"], data["refresh_token"]
    except (ValueError, KeyError, TypeError):
        return None


def save(server_id: str, username: str, refresh_token: str) -> bool:
    if not available():
        return False
    try:
        _keyring().set_password(
            SERVICE, server_id, json.dumps({"username": username, "refresh_token": refresh_token})
        )
        return True
    except Exception as exc:  # noqa: BLE001
        log.warning("keyring write failed: %s", exc)
        return False


def clear(server_id: str) -> None:
    if not available():
        return
    keyring = _keyring()
    try:
        keyring.delete_password(SERVICE, server_id)
    except keyring.errors.PasswordDeleteError:
        pass
    except Exception as exc:  # noqa: BLE001
        log.warning("keyring delete failed: %s", exc)
