"""Checkpoints: one record, now and then, binding every shard's head into one hash.

Each shard's chain protects its own records (``chain.py``); what it cannot show is a tail cut off
together with its head row (an attacker with write access sets the head back to the last record
kept). A checkpoint holds every shard's head (its last seq and hash) when it was made, is chained to
the previous checkpoint (``prev_hash``), and is signed with Ed25519 when ``CLINIC_AUDIT_SIGNING_KEY``
is set (the key never enters the database: ``audit public-key`` prints what a verifier needs).
``verify`` then checks that every shard still holds each head a checkpoint saw, and names the
shard and the record when one does not.

The hash is SHA-256 over ``prev_hash + "\\n" + canonical``, the canonical form being the
checkpoint's number, its UTC time and one ``shard,seq,hash`` line per shard holding records, by
shard, joined by newlines. The signature is over the hash's hex text.

The job (``jobs/audit_checkpoint.py``) makes one per interval across all API processes; a
checkpoint whose heads equal the previous one's is not written. Two makers at once cannot fork
the checkpoints: the number is the primary key, so the later insert fails.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, func, select
from sqlalchemy.orm import Session

from clinic_server.audit.chain import GENESIS_HASH, heads, ts_text
from clinic_server.db import utcnow
from clinic_server.db.models import AuditCheckpoint, AuditEvent


def canonical(number: int, ts: datetime, shard_heads: list[list]) -> bytes:
    lines = [str(number), ts_text(ts), *(f"{int(s)},{int(q)},{h}" for s, q, h in shard_heads)]
    return "\n".join(lines).encode()


def checkpoint_hash(prev_hash: str, number: int, ts: datetime, shard_heads: list[list]) -> str:
    return hashlib.sha256(prev_hash.encode() + b"\n" + canonical(number, ts, shard_heads)).hexdigest()


# --------------------------------------------------------------------------- keys


def signing_key(secret: str):
    """The Ed25519 private key derived from ``CLINIC_AUDIT_SIGNING_KEY`` (any text of 32+ characters:
    its SHA-256 is the seed, so every API process given the same text signs with the same key)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(secret.encode()).digest())


def configured_key(settings):
    """The deployment's signing key (``CLINIC_AUDIT_SIGNING_KEY``), or None: unsigned checkpoints."""
    if settings.audit_signing_key is None:
        return None
    return signing_key(settings.audit_signing_key.get_secret_value())


def public_bytes(key) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def public_text(private_key) -> str:
    """What a verifier is given (``audit verify --public-key``): the raw public key, base64."""
    return base64.b64encode(public_bytes(private_key.public_key())).decode()


def load_public(value: str):
    """A public key given as ``public_text`` printed it. Raises ValueError if it is not one."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        raw = base64.b64decode(value.strip(), validate=True)
        return Ed25519PublicKey.from_public_bytes(raw)
    except ValueError as exc:
        raise ValueError("not an Ed25519 public key (base64 of 32 bytes)") from exc


def key_id(public_key) -> str:
    return hashlib.sha256(public_bytes(public_key)).hexdigest()[:16]


# --------------------------------------------------------------------------- making one


def make(session: Session, private_key=None, now: datetime | None = None) -> AuditCheckpoint | None:
    """Write a checkpoint of the committed heads (in the session's transaction; the caller commits).
    None when nothing was appended since the last one."""
    conn = session.connection()
    shard_heads = [[s, q, h] for s, (q, h) in heads(conn).items() if q > 0]
    last = session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.id.desc()).limit(1)).first()
    if last is not None and last.heads == shard_heads:
        return None
    number = 1 if last is None else last.id + 1
    prev = GENESIS_HASH if last is None else last.hash
    ts = now or utcnow()
    digest = checkpoint_hash(prev, number, ts, shard_heads)
    cp = AuditCheckpoint(id=number, ts=ts, heads=shard_heads, prev_hash=prev, hash=digest)
    if private_key is not None:
        cp.signature = base64.b64encode(private_key.sign(digest.encode())).decode()
        cp.key_id = key_id(private_key.public_key())
    session.add(cp)
    session.flush()
    return cp


# --------------------------------------------------------------------------- checking


@dataclass(frozen=True)
class Report:
    count: int = 0
    last_id: int | None = None
    last_ts: datetime | None = None
    #: records newer than the last checkpoint's heads
    after: int = 0
    unsigned: int = 0
    problem: str | None = None
    first_bad_seq: int | None = None
    shard: int | None = None


def _stored(conn: Connection, wanted: dict[int, set[int]]) -> dict[tuple[int, int], str]:
    """The hashes of the records (shard, seq) asked for that exist."""
    ae = AuditEvent.__table__
    found: dict[tuple[int, int], str] = {}
    for shard, seqs in wanted.items():
        ordered = sorted(seqs)
        for i in range(0, len(ordered), 500):
            rows = conn.execute(
                select(ae.c.seq, ae.c.hash).where(ae.c.shard == shard, ae.c.seq.in_(ordered[i : i + 500]))
            )
            found.update({(shard, r.seq): r.hash for r in rows})
    return found


def load(conn: Connection) -> list:
    """Every checkpoint, in order. ``verify`` reads them before the shards' heads: heads only move
    forward, so no checkpoint read can have seen a head newer than the ones then checked."""
    t = AuditCheckpoint.__table__
    return list(conn.execute(select(t).order_by(t.c.id)).mappings().all())


def check(conn: Connection, ends: dict[int, tuple[int, str]], rows: list, public_key=None) -> Report:
    """Check the checkpoints (``rows``, from ``load``) against each other and against the shards'
    verified ends (shard -> (last seq, last hash), from walking the chains)."""
    if not rows:
        return Report()
    my_key = key_id(public_key) if public_key is not None else None
    prev, signed_seen, unsigned = GENESIS_HASH, False, 0
    for number, row in enumerate(rows, start=1):
        name = f"checkpoint #{row['id']}"
        if row["id"] != number:
            return Report(problem=f"checkpoint #{number} is missing (the next is #{row['id']})")
        if row["prev_hash"] != prev:
            return Report(problem=f"{name}: previous-hash link does not match")
        if checkpoint_hash(prev, row["id"], row["ts"], row["heads"]) != row["hash"]:
            return Report(problem=f"{name}: content does not match its hash")
        if my_key is not None and row["key_id"] == my_key and row["signature"]:
            try:
                public_key.verify(base64.b64decode(row["signature"]), row["hash"].encode())
            except Exception:  # noqa: BLE001 - cryptography raises InvalidSignature (or a decode error)
                return Report(problem=f"{name}: the signature does not match")
            signed_seen = True
        elif my_key is not None and signed_seen:
            return Report(problem=f"{name} is not signed by the key, unlike an earlier checkpoint")
        else:
            unsigned += 1
        prev = row["hash"]
    # every head a checkpoint saw must still be in its shard, unchanged
    wanted: dict[int, set[int]] = {}
    for row in rows:
        for shard, seq, _h in row["heads"]:
            if seq <= ends.get(shard, (0, ""))[0]:
                wanted.setdefault(shard, set()).add(seq)
    stored = _stored(conn, wanted)
    last_seen: dict[int, int] = {}
    for row in rows:
        saw = f"checkpoint #{row['id']} of {ts_text(row['ts'])[:19]} UTC"
        for shard, seq, digest in row["heads"]:
            end = ends.get(shard, (0, ""))[0]
            if seq > end:
                problem = (
                    f"shard {shard}: records after {end} up to {seq} are missing "
                    f"(the shard was cut short: {saw} saw it end at record {seq})"
                )
                return Report(problem=problem, first_bad_seq=end + 1, shard=shard)
            have = stored.get((shard, seq))
            if have is None:
                problem = f"shard {shard}: record {seq} is missing ({saw} saw it as the shard's last)"
                return Report(problem=problem, first_bad_seq=seq, shard=shard)
            if have != digest:
                since = last_seen.get(shard, 0)
                problem = (
                    f"shard {shard}: record {seq} differs from {saw}: the shard was rewritten "
                    f"after record {since}, at or before record {seq}"
                )
                return Report(problem=problem, first_bad_seq=seq, shard=shard)
            last_seen[shard] = seq
    last = rows[-1]
    ae = AuditEvent.__table__
    after = 0
    for shard, (end, _h) in ends.items():
        covered = last_seen.get(shard, 0)
        if end > covered:
            after += conn.execute(
                select(func.count()).where(ae.c.shard == shard, ae.c.seq > covered, ae.c.seq <= end)
            ).scalar_one()
    return Report(len(rows), last["id"], last["ts"], after, unsigned)
