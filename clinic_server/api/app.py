"""FastAPI application factory: routers, error handlers, and the background jobs of ``serve``.

Errors leave the server as ``ErrorBody`` (a code from the contract, params, an English message for
logs). A request that fails after its audit scope was opened (``api/deps.py``), whether its route
refused it, its body did not validate or the server failed, has its writes rolled back and the
scope closed with the outcome and the reason here: one record per request, whatever happens.
"""

from __future__ import annotations

import gc
import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from clinic_server import __version__
from clinic_server.audit.scope import AuditScope
from clinic_server.db import make_engine, make_sessionmaker
from clinic_server.errors import ApiError
from clinic_server.settings import Settings
from clinic_tui.api.schemas import ErrorBody, ErrorCode
from clinic_tui.domain.roles import Outcome

log = logging.getLogger("clinic_server")


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


def _close_scope(request: Request, outcome: Outcome, reason: str) -> None:
    """Leave the one audit record a failed request still owes (its own writes are rolled back)."""
    scope: AuditScope | None = getattr(request.state, "scope", None)
    if scope is None or scope.closed:
        return
    if scope.action == "request":
        # the route never ran (e.g. its body did not validate): name it by its route
        route = request.scope.get("route")
        first = next(iter((request.path_params or {}).values()), None)
        scope.about(
            action=getattr(route, "name", None) or "request",
            resource_id=str(first) if first is not None else None,
        )
    try:
        scope.fail(outcome, reason)
    finally:
        scope.session.close()


@asynccontextmanager
async def _lifespan(app: FastAPI):
    """Start the missing-data sweep (and in demo mode the simulated device feed); stop them cleanly."""
    # everything loaded at start-up lives as long as the process: keep it out of the cyclic GC's
    # full collections, which otherwise add ~100 ms pauses to requests that build many objects
    gc.collect()
    gc.freeze()
    settings = app.state.settings
    sweeper = feed = None
    if settings.missing_sweep_minutes > 0:
        from clinic_server.jobs.missing_data import MissingDataSweeper

        sweeper = MissingDataSweeper(app.state.sessionmaker, settings.missing_sweep_minutes)
        sweeper.start()
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

    async def _owed_record(request: Request, outcome: Outcome, reason: str) -> None:
        try:
            await run_in_threadpool(_close_scope, request, outcome, reason)
        except Exception:  # noqa: BLE001 - the response is an error either way
            log.exception("could not write the audit record of a failed request")

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError):
        await _owed_record(request, exc.outcome, exc.audit_reason)
        return _error(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        message, fields = _field_errors(exc)
        await _owed_record(request, Outcome.DENIED, f"invalid request: {message}")
        return _error(
            ApiError(422, ErrorCode.INVALID_REQUEST, message, params={"fields": ", ".join(fields)[:200]})
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        log.exception("unhandled error", exc_info=exc)
        # fail closed, but still leave the one record this request owes
        await _owed_record(request, Outcome.ERROR, f"server error: {type(exc).__name__}")
        return _error(
            ApiError(
                500, ErrorCode.SERVER_ERROR, "The server failed to handle this request; nothing was changed."
            )
        )

    from clinic_server.api.routes import ROUTERS

    for router in ROUTERS:
        app.include_router(router, prefix="/api/v1")
    return app
