"""FastAPI application factory: routers, error handlers, and the background jobs of ``serve``.

Errors leave the server as ``ErrorBody`` (a code from the contract, params, an English message for
logs). A request that fails after its audit scope was opened (``api/deps.py``), whether its route
refused it, its body did not validate or the server failed, has its writes rolled back and the
scope closed with the outcome and the reason here: one record per request, whatever happens.

A request can also fail before its scope opened: FastAPI refuses a body that is not JSON (or
nested too deep) before any dependency runs, and a missing or bad access token fails the
dependency that would open it. Such a failure on a route that knows its caller is recorded as that
caller (the bearer token, or the device key, is checked here); one where nobody can be named is
counted in the tally of unauthenticated failures (``audit/tally.py``: one record a minute).
"""

from __future__ import annotations

import gc
import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from clinic_server import __version__
from clinic_server.access.policy import purpose_for
from clinic_server.api.deps import (
    DeviceScopeKind,
    actor_of,
    authenticate,
    client_source,
    open_scope,
    request_info,
)
from clinic_server.api.finish import FinishStartedRequests
from clinic_server.api.routing import SCOPE_KIND
from clinic_server.audit import tally
from clinic_server.audit.scope import AuditScope, who_of
from clinic_server.db import make_engine, make_sessionmaker, utcnow
from clinic_server.errors import ApiError
from clinic_server.services.ingest import device_for_key
from clinic_server.settings import Settings
from clinic_tui.api.schemas import ErrorBody, ErrorCode
from clinic_tui.domain.roles import Outcome

log = logging.getLogger("clinic_server")


#: seconds a client is asked to wait when the database cannot be reached
RETRY_AFTER_UNAVAILABLE_S = 5


def database_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` says the database could not be reached (rather than that a query was wrong):
    a dropped connection, a refused one (PostgreSQL down, restarting, not accepting connections to
    this database, out of connection slots) or the server ending our session."""
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    orig = exc.orig
    if orig is None or type(orig).__module__.split(".")[0] != "psycopg":
        return False
    state = getattr(orig, "sqlstate", None)
    if state is None:  # no answer from a server at all: refused, reset, timed out
        return isinstance(exc, OperationalError)
    # 08: connection exception, 53300: too many connections, 55000: the database does not accept
    # connections now, 57P: operator intervention (shutdown, terminated backend, cannot connect now)
    return state.startswith(("08", "57P")) or state in ("53300", "55000")


def _error(exc: ApiError) -> JSONResponse:
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else None
    body = ErrorBody(
        code=exc.code,
        message=exc.message,
        params=exc.params,
        retry_after=exc.retry_after,
        problems=exc.problems,
    )
    dumped = body.model_dump(exclude_none=True)
    if not exc.problems:
        dumped.pop("problems", None)
    return JSONResponse(dumped, status_code=exc.status, headers=headers)


def _field_errors(exc: RequestValidationError) -> tuple[str, list[str]]:
    parts, fields = [], []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path"))
        parts.append(f"{loc or 'request'}: {err.get('msg', 'invalid')}")
        fields.append(loc or "request")
    return "; ".join(parts) or "invalid request", fields


def _name_by_route(request: Request, scope: AuditScope) -> None:
    """The route never ran (e.g. its body did not validate): name the record by its route."""
    route = request.scope.get("route")
    first = next(iter((request.path_params or {}).values()), None)
    scope.about(
        action=getattr(route, "name", None) or "request",
        resource_id=str(first) if first is not None else None,
    )


def _late_scope(request: Request, session) -> AuditScope | None:
    """For a request that failed before its scope opened: a scope of the caller its route would have
    known (a valid bearer token, or device key), or None when nobody can be named."""
    endpoint = getattr(request.scope.get("route"), "endpoint", None)
    kind = getattr(endpoint, SCOPE_KIND, None)
    info = request_info(request)
    if kind == "guard":
        try:
            user = authenticate(request, session, request.app.state.settings)
        except ApiError:
            return None
        return open_scope(
            request, AuditScope(session, who_of(user), info, purpose=purpose_for(actor_of(user)))
        )
    if kind == "device":
        device = device_for_key(session, request.headers.get("x-device-key"))
        if device is None:
            return None
        scope = open_scope(request, AuditScope(session, who_of(None), info, **DeviceScopeKind))
        scope.about(person_id=device.person_id)
        scope.note(device_id=device.id)
        return scope
    return None


def _close_scope(request: Request, outcome: Outcome, reason: str, kind: str) -> None:
    """Leave the one audit record a failed request still owes (its own writes are rolled back), or
    count it in the tally when nobody can be named (``kind`` says what failed)."""
    scope: AuditScope | None = getattr(request.state, "scope", None)
    if scope is not None and scope.closed:
        return
    if scope is None:
        session = request.app.state.sessionmaker()
        try:
            scope = _late_scope(request, session)
            if scope is None:
                tally.count(session, kind, client_source(request), utcnow())
                session.commit()
                return
        except BaseException:
            session.close()
            raise
    try:
        if (
            outcome == Outcome.DENIED
            and scope.who.user_id is None
            and scope.who.organization_id is None
            and scope.person_id is None
        ):
            # a login or device request refused before anyone was known: nobody to name (an
            # organization's integration is somebody: its refusals are recorded)
            scope.aggregate(kind)
            return
        if scope.action == "request":
            _name_by_route(request, scope)
        scope.fail(outcome, reason)
    finally:
        scope.session.close()


@asynccontextmanager
async def _lifespan(app: FastAPI):
    """Start the scheduled jobs (tally flush, missing-data sweep, retention, findings scan; in demo
    mode the simulated device feed); stop them cleanly."""
    # everything loaded at start-up lives as long as the process: keep it out of the cyclic GC's
    # full collections, which otherwise add ~100 ms pauses to requests that build many objects
    gc.collect()
    gc.freeze()
    settings = app.state.settings
    sweeper = feed = keeper = scanner = checkpointer = None
    from clinic_server.jobs.failure_tally import TallyFlusher

    flusher = TallyFlusher(app.state.sessionmaker)
    flusher.start()
    if settings.missing_sweep_minutes > 0:
        from clinic_server.jobs.missing_data import MissingDataSweeper

        sweeper = MissingDataSweeper(app.state.sessionmaker, settings.missing_sweep_minutes)
        sweeper.start()
    if settings.retention_hours > 0:
        from clinic_server.jobs.retention import RetentionJob

        keeper = RetentionJob(app.state.sessionmaker, settings.retention_hours)
        keeper.start()
    if settings.findings_scan_minutes > 0:
        from clinic_server.jobs.findings import FindingsScanner

        scanner = FindingsScanner(app.state.sessionmaker, settings.findings_scan_minutes, settings)
        scanner.start()
    if settings.audit_checkpoint_minutes > 0:
        from clinic_server.audit.checkpoint import configured_key
        from clinic_server.jobs.audit_checkpoint import CheckpointJob

        minutes = settings.audit_checkpoint_minutes
        checkpointer = CheckpointJob(app.state.sessionmaker, minutes, configured_key(settings))
        checkpointer.start()
    if settings.demo:
        from clinic_server.demo.feed import DemoFeed

        feed = DemoFeed(app.state.sessionmaker, interval=settings.feed_seconds)
        feed.start()
    try:
        yield
    finally:
        if feed is not None:
            feed.stop()
        if sweeper is not None:
            sweeper.stop()
        flusher.stop()
        if keeper is not None:
            keeper.stop()
        if scanner is not None:
            scanner.stop()
        if checkpointer is not None:
            checkpointer.stop()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    engine = make_engine(settings.database_url)
    app = FastAPI(
        title="clinic-server",
        version=__version__,
        description="Backend API of clinic-tui: consented access to remote-monitoring and "
        "workplace-health data, every access audited.",
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        redoc_url=None,
        lifespan=_lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = make_sessionmaker(engine)
    app.add_middleware(FinishStartedRequests)

    async def _owed_record(request: Request, outcome: Outcome, reason: str, kind: str) -> None:
        try:
            await run_in_threadpool(_close_scope, request, outcome, reason, kind)
        except Exception:  # noqa: BLE001 - the response is an error either way
            log.exception("could not write the audit record of a failed request")

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError):
        kind = tally.Kind.NO_TOKEN if exc.code == ErrorCode.NOT_AUTHENTICATED else tally.Kind.BAD_TOKEN
        await _owed_record(request, exc.outcome, exc.audit_reason, kind)
        return _error(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        message, fields = _field_errors(exc)
        await _owed_record(request, Outcome.DENIED, f"invalid request: {message[:300]}", tally.Kind.MALFORMED)
        return _error(
            ApiError(422, ErrorCode.INVALID_REQUEST, message, params={"fields": ", ".join(fields)[:200]})
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        # FastAPI's own refusals: an unknown path or method, a body it could not parse
        if exc.status_code in (404, 405):
            code, kind = ErrorCode.NOT_FOUND, tally.Kind.UNKNOWN_PATH
        else:
            code, kind = ErrorCode.INVALID_REQUEST, tally.Kind.MALFORMED
        message = str(exc.detail)[:200]
        await _owed_record(request, Outcome.DENIED, f"refused by the framework: {message}", kind)
        return _error(ApiError(exc.status_code, code, message))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        if database_unavailable(exc):
            # not a fault of the server's: the database refused or dropped the connection (restart,
            # failover, a full connection limit). Nothing was committed; say when to try again.
            log.warning("database unavailable: %s", str(exc).splitlines()[0][:200])
            await _owed_record(
                request, Outcome.ERROR, f"server error: {type(exc).__name__}", tally.Kind.SERVER_ERROR
            )
            return _error(
                ApiError(
                    503,
                    ErrorCode.SERVICE_UNAVAILABLE,
                    "The database cannot be reached right now; nothing was changed. Try again.",
                    retry_after=RETRY_AFTER_UNAVAILABLE_S,
                )
            )
        log.exception("unhandled error", exc_info=exc)
        # fail closed, but still leave the one record this request owes
        await _owed_record(
            request, Outcome.ERROR, f"server error: {type(exc).__name__}", tally.Kind.SERVER_ERROR
        )
        return _error(
            ApiError(
                500, ErrorCode.SERVER_ERROR, "The server failed to handle this request; nothing was changed."
            )
        )

    from clinic_server.api.routes import ROUTERS

    for router in ROUTERS:
        app.include_router(router, prefix="/api/v1")
    return app
