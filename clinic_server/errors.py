"""The errors a request can end with, as every layer raises them.

An ``ApiError`` carries what the caller is told (status, ``code`` from the wire contract's
``ErrorCode``, ``params`` the client renders its own text from, and an English ``message`` for logs
and API consumers) and, separately, what the audit record says (``outcome`` and ``audit_reason``),
which may name policy facts the caller must not learn.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from clinic_tui.api.schemas import ErrorCode, ErrorParam, ProblemOut
from clinic_tui.domain.provenance import Problem
from clinic_tui.domain.roles import Outcome


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: ErrorCode | str,
        message: str,
        *,
        params: dict[str, ErrorParam] | None = None,
        outcome: Outcome | None = None,
        audit_reason: str | None = None,
        retry_after: int | None = None,
        problems: Sequence[ProblemOut] = (),
    ):
        super().__init__(message)
        self.status = status
        self.code = str(code)
        self.message = message
        self.params = dict(params or {})
        self.problems = list(problems)
        #: denied: the policy or the caller's standing refused it; error: it could not be done
        self.outcome = outcome or (Outcome.DENIED if status < 500 else Outcome.ERROR)
        self.audit_reason = audit_reason or message
        self.retry_after = retry_after


NOT_PERMITTED_MESSAGE = "You do not have access to this."


def denied(audit_reason: str, *, status: int = 403, resource: str | None = None) -> ApiError:
    """The policy said no. The caller learns only that (the same for "does not exist"): the reason,
    which may name a restriction, an age or a consent, goes to the audit record alone."""
    return ApiError(
        status,
        ErrorCode.NOT_PERMITTED,
        NOT_PERMITTED_MESSAGE,
        params={"resource": resource} if resource else None,
        outcome=Outcome.DENIED,
        audit_reason=audit_reason,
    )


def refused(
    status: int, code: ErrorCode, message: str, *, outcome: Outcome = Outcome.ERROR, **params: object
) -> ApiError:
    """Allowed, but it cannot be done as asked (a bad state, a missing note, a conflict)."""
    return ApiError(status, code, message, params=params, outcome=outcome)  # type: ignore[arg-type]


def consent_missing(missing: Iterable[str], audit_reason: str) -> ApiError:
    """The coach may see this person, but the participant's consent does not cover ``missing``,
    which the action needs: the one refusal that names something (``access/policy.py`` says why)."""
    names = ",".join(sorted(str(c) for c in missing))
    return ApiError(
        403,
        ErrorCode.CONSENT_MISSING,
        f"The participant's consent does not cover: {names.replace(',', ', ')}.",
        params={"missing": names},
        outcome=Outcome.DENIED,
        audit_reason=audit_reason,
    )


def invalid(problems: Sequence[Problem]) -> ApiError:
    """Values the domain's rules refuse: each problem with its field path, code and params (the
    first's are also the body's ``params``). Nothing was changed."""
    first = problems[0]
    params: dict[str, ErrorParam] = {**first.params}
    if first.field is not None:
        params["field"] = first.field
    return ApiError(
        422,
        ErrorCode.INVALID_VALUES,
        "; ".join(p.message for p in problems)[:1000],
        params=params,
        outcome=Outcome.DENIED,
        audit_reason=f"invalid values: {', '.join(sorted({p.code for p in problems}))}"[:500],
        problems=[ProblemOut(field=p.field, code=p.code, params=dict(p.params)) for p in problems],
    )
