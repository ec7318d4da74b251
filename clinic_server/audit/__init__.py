"""The audit log: the hash-chained append and its check (``chain``), and the one record per request."""

from clinic_server.audit.chain import (
    GENESIS_HASH,
    RequestInfo,
    VerifyResult,
    Who,
    append,
    system_request,
    verify,
)

__all__ = ["GENESIS_HASH", "RequestInfo", "VerifyResult", "Who", "append", "system_request", "verify"]
