"""A request that has started runs to its end, whatever its client does meanwhile.

A client that gives up on a request (a timeout, a newer poll replacing a running one) cancels the
task awaiting the response. In process (httpx's ``ASGITransport``: the tests, any embedding) that
cancellation travels into the app; FastAPI then unwinds the request's dependencies, closing its
database session, while the endpoint is still running in its worker thread, which cannot be
stopped. The thread's remaining statements would run on a connection already back in the pool and
in use by another request (on SQLite this committed an audit record whose number was never counted).

So the app runs each HTTP request in a task of its own and only shields the wait for it: the client
may leave, the request still finishes as one unit, its work and its one audit record committed
together or rolled back together, and its session closed after its last statement. The response of
an abandoned request is discarded by the caller.
"""

from __future__ import annotations

import asyncio
import logging

from starlette.types import ASGIApp, Receive, Scope, Send

log = logging.getLogger("clinic_server")


def _retrieve(task: asyncio.Task) -> None:
    """Log the failure of a request whose client had already left (nobody else will read it)."""
    if not task.cancelled() and task.exception() is not None:
        log.error("a request finished after its client left, failing", exc_info=task.exception())


class FinishStartedRequests:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        task = asyncio.ensure_future(self.app(scope, receive, send))
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            if not task.done():
                task.add_done_callback(_retrieve)
            raise
