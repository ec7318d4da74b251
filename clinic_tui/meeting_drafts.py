"""Meetings the server has not stored yet, kept on this computer, encrypted, until it has.

A coach's meeting is written here *before* it is sent and removed only when the server answered
with the stored meeting, so a stopped or slow server, a closed screen or a crashed app never loses
what she typed. Each draft keeps its ``Idempotency-Key``: sending it again (``CoachApi.save_meeting``
with the same key) stores the meeting once even if the first attempt reached the server and only
its answer was lost.

Encryption: Fernet (``cryptography``), one key per server and user, kept in the OS keyring (like the
refresh token, ``session_store``); files hold only ciphertext. Without a keyring the drafts live
in memory for this run only (``persistent`` False) and the screens say so. No Textual here.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from hashlib import sha256
from pathlib import Path

from clinic_tui import session_store

log = logging.getLogger(__name__)
APP_DIR = "clinic-tui"


def data_dir() -> Path:
    """The client's data directory (``CLINIC_DATA_DIR`` overrides, as for the embedded backend)."""
    override = os.environ.get("CLINIC_DATA_DIR")
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_DIR, appauthor=False))


@dataclass
class MeetingDraft:
    """One unsent meeting: the participant, the key it is always sent with, and the body."""

    person_id: str
    key: str
    #: ``MeetingIn`` as JSON (``model_dump(mode="json", exclude_none=True)``)
    meeting: dict
    #: the participant as the list named her (for "unsent meetings" lines; not personal beyond it)
    label: str = ""
    saved_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    #: the last refusal's code, if the server refused it (e.g. invalid_values): fix it in the form
    refused: str | None = None
    #: the coach pressed save (so it may be sent again without her); False: a form she left unsaved
    submitted: bool = False


class DraftStore:
    """The drafts of one user on one server."""

    def __init__(self, server_id: str, username: str, root: Path | None = None):
        self.owner = f"{server_id}\n{username}"
        digest = sha256(self.owner.encode()).hexdigest()[:24]
        self.dir = (root or data_dir()) / "meeting-drafts" / digest
        self._memory: dict[str, MeetingDraft] = {}
        self._fernet = self._load_key()

    @property
    def persistent(self) -> bool:
        """Kept across restarts (encrypted on disk), or in memory for this run only."""
        return self._fernet is not None

    def _load_key(self):
        from cryptography.fernet import Fernet

        if not session_store.available():
            return None
        import keyring

        name = "meeting-drafts:" + self.owner
        try:
            key = keyring.get_password(session_store.SERVICE, name)
            if not key:
                key = Fernet.generate_key().decode()
                keyring.set_password(session_store.SERVICE, name, key)
            return Fernet(key.encode())
        except Exception as exc:  # noqa: BLE001 - a broken keyring: keep drafts in memory
            log.warning("keyring unusable for drafts: %s", exc)
            return None

    def _path(self, key: str) -> Path:
        return self.dir / f"{sha256(key.encode()).hexdigest()[:32]}.draft"

    def save(self, draft: MeetingDraft) -> None:
        self._memory[draft.key] = draft
        if self._fernet is None:
            return
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        token = self._fernet.encrypt(json.dumps(asdict(draft)).encode())
        path = self._path(draft.key)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(token)
        os.chmod(tmp, 0o600)
        tmp.replace(path)

    def remove(self, key: str) -> None:
        self._memory.pop(key, None)
        if self._fernet is not None:
            self._path(key).unlink(missing_ok=True)

    def all(self) -> list[MeetingDraft]:
        """Every draft, oldest first (unreadable files are skipped and logged, never deleted)."""
        drafts = dict(self._memory)
        if self._fernet is not None and self.dir.is_dir():
            from cryptography.fernet import InvalidToken

            for path in self.dir.glob("*.draft"):
                try:
                    data = json.loads(self._fernet.decrypt(path.read_bytes()))
                    drafts[data["key"]] = MeetingDraft(**data)
                except (InvalidToken, ValueError, KeyError, TypeError, OSError) as exc:
                    log.warning("draft %s unreadable: %s", path.name, exc)
        return sorted(drafts.values(), key=lambda d: d.saved_at)

    def for_person(self, person_id: str) -> list[MeetingDraft]:
        return [d for d in self.all() if d.person_id == person_id]


@dataclass
class SendResult:
    """What sending the drafts did: stored (the server's meetings), refused, or stopped early."""

    stored: list = field(default_factory=list)
    refused: list = field(default_factory=list)
    #: the server did not answer: the remaining drafts stay, with their keys
    unreachable: Exception | None = None


async def send(api, store: DraftStore, drafts: list[MeetingDraft]) -> SendResult:
    """Send ``drafts`` (each with its own key), oldest first; remove each the server stored.

    A refusal (invalid values, consent missing, key reused) keeps the draft, marked with the code,
    for the coach to fix in the form; an unreachable server stops the round (the rest stay)."""
    from clinic_tui.api.client import ApiError, NotAuthenticated, Unreachable
    from clinic_tui.api.schemas.coach import MeetingIn

    result = SendResult()
    for draft in drafts:
        try:
            meeting = await api.save_meeting(
                draft.person_id, MeetingIn.model_validate(draft.meeting), idempotency_key=draft.key
            )
        except Unreachable as exc:
            result.unreachable = exc
            return result
        except NotAuthenticated:
            raise  # the session is over: the app's one handler logs her in again; drafts stay
        except ApiError as exc:
            draft.refused = exc.code
            store.save(draft)
            result.refused.append((draft, exc))
            continue
        store.remove(draft.key)
        result.stored.append((draft, meeting))
    return result
