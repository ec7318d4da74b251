"""Audited routes: a route cannot end without its one audit record.

Every router of ``api/routes`` except the public facts (``info``) is an ``AuditedRouter``. Each
endpoint registered on it must take exactly one scope-carrying dependency (``GuardDep``,
``DeviceScopeDep`` or ``AuthScopeDep``, see ``api/deps.py``), or registration fails at start-up; the
endpoint is wrapped so that when it returns, its scope is closed with outcome "allowed" and
committed together with the request's writes. A request that raises is recorded by the exception
handlers in ``api/app.py`` instead. Services therefore never write audit records or commit.
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter

from clinic_server.access.guard import Guard
from clinic_server.audit.scope import AuditScope
from clinic_tui.api.schemas import ErrorBody
from clinic_tui.domain.roles import Outcome

#: set on every wrapped endpoint (the app's test checks that each non-public route has it)
AUDITED = "__clinic_audited__"
#: set on every wrapped endpoint: "guard", "device" or "auth", the kind of its scope (what the
#: error handlers of ``api/app.py`` authenticate when a request fails before its scope opened)
SCOPE_KIND = "__clinic_scope_kind__"


def _scope_param(endpoint: Callable, hints: dict[str, Any]) -> str:
    found = []
    for name, hint in hints.items():
        if name == "return":
            continue
        base = typing.get_args(hint)[0] if typing.get_origin(hint) is typing.Annotated else hint
        if base in (Guard, AuditScope):
            found.append(name)
    if len(found) != 1:
        raise TypeError(
            f"{endpoint.__module__}.{endpoint.__qualname__}: an audited route takes exactly one of "
            f"GuardDep, DeviceScopeDep or AuthScopeDep (found {found or 'none'})"
        )
    return found[0]


def audited(endpoint: Callable) -> Callable:
    """Wrap ``endpoint`` so that returning closes (and commits) its request's audit scope."""
    if inspect.iscoroutinefunction(endpoint):
        raise TypeError(
            f"{endpoint.__qualname__}: audited routes are plain functions (run in the threadpool)"
        )
    hints = typing.get_type_hints(endpoint, include_extras=True)
    name = _scope_param(endpoint, hints)
    hint = hints[name]
    base = typing.get_args(hint)[0] if typing.get_origin(hint) is typing.Annotated else hint
    dependency = next(
        (
            getattr(m, "dependency", None)
            for m in getattr(hint, "__metadata__", ())
            if hasattr(m, "dependency")
        ),
        None,
    )
    kind = "guard" if base is Guard else getattr(dependency, "__name__", "").removesuffix("_scope")

    @functools.wraps(endpoint)
    def wrapper(*args, **kwargs):
        holder = kwargs[name]
        scope = holder.scope if isinstance(holder, Guard) else holder
        result = endpoint(*args, **kwargs)
        if not scope.closed:
            scope.close_and_commit(Outcome.ALLOWED)
        return result

    # FastAPI reads the signature (through __wrapped__) and resolves string annotations in the
    # wrapper's globals: give it the endpoint's annotations already resolved
    sig = inspect.signature(endpoint)
    returns = hints.get("return", sig.return_annotation)
    wrapper.__signature__ = sig.replace(  # type: ignore[attr-defined]
        parameters=[p.replace(annotation=hints.get(p.name, p.annotation)) for p in sig.parameters.values()],
        return_annotation=None if returns is type(None) else returns,
    )
    setattr(wrapper, AUDITED, True)
    setattr(wrapper, SCOPE_KIND, kind)
    return wrapper


#: the refusals every audited route may answer, each an ``ErrorBody`` (api/app.py's handlers)
ERRORS = {
    400: "The body could not be read (not JSON, or nested too deep).",
    401: "Not authenticated: no, a bad or an expired access token, or an ended session.",
    403: "Not permitted (the reason is in the audit record only).",
    422: "The request is invalid: the message names the fields and what is wrong.",
}


def error_responses(declared: dict | None) -> dict:
    """The route's own responses, each refusal (4xx, 5xx) documented as an ``ErrorBody``, plus the
    common refusals; a success status the route declares (e.g. a CSV 200) is kept as it is."""
    out: dict = {}
    for status in sorted({*ERRORS, *(int(k) for k in (declared or {}))}):
        given = dict((declared or {}).get(status) or {})
        if status < 400:
            out[status] = given
            continue
        given.setdefault("model", ErrorBody)
        given.setdefault("description", ERRORS.get(status, "Refused: see the code and message."))
        out[status] = given
    return out


class AuditedRouter(APIRouter):
    """An ``APIRouter`` whose every endpoint is ``audited`` and documents its refusals."""

    def add_api_route(self, path: str, endpoint: Callable, **kwargs: Any) -> None:
        kwargs["responses"] = error_responses(kwargs.get("responses"))
        super().add_api_route(path, audited(endpoint), **kwargs)
