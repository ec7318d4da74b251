"""FastAPI application factory."""

from __future__ import annotations

import gc
import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from clinic_server import __version__
from clinic_server.access.visibility import DecisionCache
from clinic_server.api.deps import ApiError, record_unrecorded
from clinic_server.db import make_engine, make_sessionmaker
from clinic_server.settings import Settings
from clinic_tui.api.schemas import ErrorBody

log = logging.getLogger("clinic_server")


def _error(status: int, code: str, message: str, retry_after: int | None = None) -> JSONResponse:
    headers = {"Retry-After": str(retry_after)} if retry_after else None
    body = ErrorBody(code=code, message=message, retry_after=retry_after)
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status, headers=headers)


def _field_errors(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path"))
        parts.append(f"{loc or 'request'}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


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

        feed = DemoFeed(app.state.sessionmaker)
        feed.start()
    try:
        yield
    finally:
        if feed is not None:
            feed.stop()
        if sweeper is not None:
            sweeper.stop()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_env()
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
    #: policy answers reused while they hold (see clinic_server/visibility.py)
    app.state.visible_cache = DecisionCache()

    async def _owed_record(request: Request, outcome: str, reason: str) -> None:
        try:
            await run_in_threadpool(record_unrecorded, request, outcome, reason)
        except Exception:  # noqa: BLE001 - the response is an error either way
            log.exception("could not write the audit record of a failed request")

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError):
        await _owed_record(request, "denied" if exc.status < 500 else "error", exc.message)
        return _error(exc.status, exc.code, exc.message, exc.retry_after)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        message = _field_errors(exc)
        await _owed_record(request, "denied", f"invalid request: {message}")
        return _error(422, "invalid_request", message)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        log.exception("unhandled error", exc_info=exc)
        # fail closed, but still leave the one record this request owes
        await _owed_record(request, "error", f"server error: {type(exc).__name__}")
        return _error(500, "server_error", "The server failed to handle this request; nothing was changed.")

    from clinic_server.api.routes import alerts, auth, breakglass, consents, info, ingest, patients, vitals
    from clinic_server.api.routes import audit as audit_routes

    for module in (info, auth, patients, consents, breakglass, audit_routes, ingest, alerts, vitals):
        app.include_router(module.router, prefix="/api/v1")
    return app
