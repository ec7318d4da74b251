"""Where the privacy officer's documents and exports go, and how they are written (no Textual).

A register extract or an export holds the person's own data: it is written only where the officer
says, readable by the officer's account alone (mode 0600), and a written file is never replaced
without being asked first (the screen asks).
"""

from __future__ import annotations

import os
from pathlib import Path

APP_DIR = "clinic-tui"


def default_dir() -> Path:
    """The user's documents directory (``platformdirs``), else the app's data directory."""
    import platformdirs

    docs = platformdirs.user_documents_path()
    return docs / APP_DIR if docs.is_dir() else platformdirs.user_data_path(APP_DIR) / "exports"


def default_path(kind: str, person_id: str, suffix: str) -> Path:
    """``register-extract-<id>-sv.md``, ``fhir-export-<id>.json``: one name per person and kind."""
    return default_dir() / f"{kind}-{person_id[:12]}{suffix}"


def check_target(text: str) -> tuple[Path | None, str | None]:
    """The path typed, expanded; or why it cannot be written (``"empty"``, ``"directory"``)."""
    text = text.strip()
    if not text:
        return None, "empty"
    path = Path(text).expanduser()
    if path.is_dir():
        return None, "directory"
    return path, None


def write_private(path: Path, text: str) -> int:
    """Write ``text`` to ``path`` (parents made, mode 0600); returns the bytes written."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    data = text.encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(path, 0o600)
    return len(data)
