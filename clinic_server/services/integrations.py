"""Integration credentials: an organization's own system calling the API (``X-Client-Key``).

The patient app's backend (ImagineCare) registers people and records their consents; IMR's
onboarding imports an employer's roster. Neither is a person with a login: each is a system of one
organization, so each gets a credential of its own, bound to that organization. Like a device key,
the key is 256 random bits shown once; only its SHA-256 is stored (a fast hash is enough for a key
nobody chose: there is no dictionary to try), so a copy of the database holds no usable key.
Revoking is setting ``active`` to false. ``docs/privacy.md`` argues the choice.
"""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from clinic_server.db.models import IntegrationClient, Organization

KEY_PREFIX = "cik_"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def create_client(
    session: Session, organization: Organization, label: str, key: str | None = None
) -> tuple[IntegrationClient, str]:
    """A credential for ``organization``'s system; returns it with its key (shown once, never stored)."""
    key = key or new_key()
    client = IntegrationClient(
        organization_id=organization.id, label=label, key_hash=hash_key(key), active=True
    )
    session.add(client)
    session.flush()
    return client, key


def client_for_key(session: Session, key: str | None) -> IntegrationClient | None:
    """The active credential holding ``key``, or None."""
    if not key or len(key) > 200:
        return None
    client = session.scalar(select(IntegrationClient).where(IntegrationClient.key_hash == hash_key(key)))
    if client is None or not client.active:
        return None
    return client
