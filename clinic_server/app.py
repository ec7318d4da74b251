"""FastAPI application factory."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from clinic_server import __version__, audit
from clinic_server.config import Settings
from clinic_server.context import ApiError, who_of
from clinic_server.db import make_engine, make_sessionmaker
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
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = make_sessionmaker(engine)

    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError):
        return _error(exc.status, exc.code, exc.message, exc.retry_after)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError):
        return _error(422, "invalid_request", _field_errors(exc))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        log.exception("unhandled error", exc_info=exc)
        ctx = getattr(request.state, "ctx", None)
        if ctx is not None and not ctx.recorded:
            # fail closed, but still leave the one record this request owes
            try:
                with app.state.sessionmaker() as s:
                    pending = dict(ctx.pending) or {"action": "request", "resource_type": "unknown"}
                    pending.setdefault("purpose", ctx.actor and "care")
                    audit.append(
                        s,
                        who=who_of(ctx.user),
                        request=ctx.info,
                        outcome="error",
                        reason=f"server error: {type(exc).__name__}",
                        **pending,
                    )
                    s.commit()
            except Exception:  # noqa: BLE001 - the response is an error either way
                log.exception("could not write the error audit record")
        return _error(500, "server_error", "The server failed to handle this request; nothing was changed.")

    from clinic_server.routes import auth, info, patients

    app.include_router(info.router, prefix="/api/v1")
    app.include_router(auth.router, prefix="/api/v1")
    app.include_router(patients.router, prefix="/api/v1")
    return app
