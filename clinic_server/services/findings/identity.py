"""Linking a user to their own identity, for the relation rule, without storing that identity.

To see that a nurse opened her own record, a colleague's, or that of someone with her surname or
address, the scan must compare the user with the person. The user's personnummer, surname parts
and home address are kept only as keyed hashes (HMAC-SHA-256, RFC 2104) in ``user_link``:

- A plain hash would protect nothing: a personnummer has about 36.5 million possible values per
  century (birth date x serial), so SHA-256 over all of them takes seconds. With a key that is not
  in the database, a copy of the database alone does not give the user's personnummer away.
- The key comes from ``CLINIC_IDENTITY_KEY`` (shared by every API process, like the signing key),
  else from the OS keyring (``keyring``), where it is created on first use; it is never written to
  a file. Each link records the id of the key that made it (a hash of the key), so a scan with
  another key skips those links and says so instead of finding nothing silently.
- The demo's fictional staff are linked with a published demo key (like the demo's device keys):
  a scan uses it only for links that were made with it.
- No API returns the hashes; matching happens in the scan, in memory.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import unicodedata
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from clinic_server.db import utcnow
from clinic_server.db.models import UserLink
from clinic_server.settings import Settings
from clinic_tui.domain import personnummer

KEYRING_SERVICE = "clinic-server"
#: the demo's identity key: public on purpose, used only for the demo's fictional staff
DEMO_SECRET = b"clinic-tui demo identity key: public, for the fictional demo staff only"

_NOT_ALNUM = re.compile(r"[^0-9a-zåäöéü]+")
_PARTS = re.compile(r"[\s\-]+")


class IdentityKeyMissing(RuntimeError):
    """No key to hash identities with (neither configured nor in a working keyring)."""


@dataclass(frozen=True)
class IdentityKey:
    secret: bytes

    @property
    def key_id(self) -> str:
        return hashlib.sha256(b"clinic identity key id\x00" + self.secret).hexdigest()[:16]

    def digest(self, kind: str, value: str) -> str:
        return hmac.new(self.secret, f"{kind}\x00{value}".encode(), hashlib.sha256).hexdigest()

    def personnummer(self, value: str | None) -> str | None:
        if not value:
            return None
        try:
            return self.digest("personnummer", personnummer.normalize(value))
        except personnummer.PersonnummerError:
            return None

    def surnames(self, family_name: str | None) -> frozenset[str]:
        return frozenset(self.digest("surname", p) for p in surname_parts(family_name))

    def address(self, value: str | None) -> str | None:
        norm = normalize_address(value)
        return self.digest("address", norm) if norm else None


def demo_key() -> IdentityKey:
    return IdentityKey(DEMO_SECRET)


def _fold(text: str) -> str:
    return unicodedata.normalize("NFC", text).casefold().strip()


def surname_parts(family_name: str | None) -> list[str]:
    """The whole surname and each part of a double name ("Lind-Berg" -> lind-berg, lind, berg)."""
    if not family_name:
        return []
    whole = _fold(family_name)
    parts = [p for p in _PARTS.split(whole) if len(p) >= 2]
    return sorted({whole, *parts}) if whole else []


def normalize_address(address: str | None) -> str | None:
    """Case, punctuation and spacing do not matter: "Storgatan 3, 752 31 Uppsala" is
    "storgatan 3 752 31 uppsala"."""
    if not address:
        return None
    norm = " ".join(_NOT_ALNUM.sub(" ", _fold(address)).split())
    return norm or None


def _keyring_entry(settings: Settings) -> str:
    url = settings.database_url.split("@")[-1]  # the credentials are not part of the name
    return "identity-key:" + hashlib.sha256(url.encode()).hexdigest()[:16]


def configured_key(settings: Settings, *, create: bool = False) -> IdentityKey | None:
    """The deployment's key: ``CLINIC_IDENTITY_KEY``, else the OS keyring (created there on first
    use when ``create``). None if neither can give one."""
    if settings.identity_key is not None:
        return IdentityKey(settings.identity_key.get_secret_value().encode())
    import keyring
    from keyring.errors import KeyringError

    entry = _keyring_entry(settings)
    try:
        stored = keyring.get_password(KEYRING_SERVICE, entry)
        if stored is None and create:
            stored = secrets.token_urlsafe(48)
            keyring.set_password(KEYRING_SERVICE, entry, stored)
    except KeyringError:
        return None
    return IdentityKey(stored.encode()) if stored else None


def link_user(
    session: Session,
    key: IdentityKey,
    user_id: str,
    *,
    personnummer_value: str | None,
    family_name: str | None,
    address: str | None,
) -> UserLink:
    """Store (or replace) the keyed hashes that link a user to their own identity. Raises
    ``ValueError`` for a personnummer that is not valid (nothing is stored then)."""
    pnr = None
    if personnummer_value:
        pnr = key.personnummer(personnummer_value)
        if pnr is None:
            raise ValueError("not a valid personnummer")
    link = session.get(UserLink, user_id) or UserLink(user_id=user_id)
    link.key_id = key.key_id
    link.personnummer_hmac = pnr
    link.surname_hmacs = sorted(key.surnames(family_name))
    link.address_hmac = key.address(address)
    link.updated_at = utcnow()
    session.add(link)
    return link


def scan_key(settings: Settings, session: Session) -> IdentityKey | None:
    """The key a scan compares with: the deployment's, if links were made with it; else the demo
    key, if the demo's links were made with it (never created here)."""
    ids = set(session.scalars(select(UserLink.key_id).distinct()))
    key = configured_key(settings)
    if key is not None and key.key_id in ids:
        return key
    if demo_key().key_id in ids:
        return demo_key()
    return key
