"""Dev servers: changes applied at request boundaries, one generation per request.

    import bridgeimport as bi
    from bridgeimport.web import WSGIReloader

    bi.mount("webapp", "webapp/")
    application = WSGIReloader("webapp.app:application", bi.watch("webapp", patch=True))
    # werkzeug.serving.run_simple("127.0.0.1", 8000, application, threaded=True)

A request that arrives while changes are pending waits until the requests
already running have finished. The watch's transaction then runs (no request
runs meanwhile), the application object is looked up again in the fresh
module, and the waiting requests go on. So no request ever sees a mix of
generations: each one runs entirely on the code it started with. If the
change fails, the transaction rolls back, the old application keeps serving
and the error is logged on the ``bridgeimport`` logger. ``ASGIReloader`` does
the same for ASGI applications on one event loop.

A long-lived request (server-sent events, a websocket) holds a pending
change, and the requests after it, until it ends. The watch must not apply on
its own thread (``apply_on_thread=True`` is refused): the gate is what keeps
requests and changes apart.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import threading
from typing import Any, Callable, Iterable, Iterator, Optional, Union

from ._watching import Watch, describe

__all__ = ["WSGIReloader", "ASGIReloader"]

_log = logging.getLogger("bridgeimport")

App = Union[str, Callable[..., Any]]


def _resolve(app: App) -> Any:
    """``"module:attribute"`` looked up now, or the object itself."""
    if not isinstance(app, str):
        return app
    module, _, attribute = app.partition(":")
    target: Any = importlib.import_module(module)
    for part in (attribute or "application").split("."):
        target = getattr(target, part)
    return target


class _Gate:
    """Requests are readers, applying a change is the writer: a change waits
    for the running requests, and new requests wait for the change."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.running = 0
        self.applying = False

    def enter(self, watch: Watch, apply: Callable[[], None]) -> None:
        with self.cond:
            while self.applying:
                self.cond.wait()
            if watch.pending():
                self.applying = True
                while self.running:
                    self.cond.wait()
                try:
                    apply()
                finally:
                    self.applying = False
                    self.cond.notify_all()
            self.running += 1

    def leave(self) -> None:
        with self.cond:
            self.running -= 1
            self.cond.notify_all()


class _Closing:
    """A WSGI response iterable that ends its request when closed (the
    server closes it after sending the last byte: PEP 3333)."""

    def __init__(self, body: Iterable[bytes], done: Callable[[], None]) -> None:
        self.body, self.done = body, done
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.body)

    def close(self) -> None:
        if self.closed:  # a middleware and the server may both close it
            return
        self.closed = True
        try:
            close = getattr(self.body, "close", None)
            if close is not None:
                close()
        finally:
            self.done()


class _Reloader:
    def __init__(self, app: App, watch: Watch) -> None:
        if watch.applies_on_thread:
            raise ValueError("bridgeimport.web: the watch must not apply on its own thread "
                             "(apply_on_thread=True): the reloader applies between requests")
        self.app, self.watch = app, watch
        self.current = _resolve(app)
        self.gate = _Gate()

    def apply(self) -> None:
        """The watch's transaction, then the application looked up afresh."""
        tx = self.watch.apply()
        if tx is None:
            return
        if tx.state == "committed":
            try:
                self.current = _resolve(self.app)
            except Exception:  # the fresh module has no such attribute: keep serving
                _log.exception("bridgeimport: cannot find %r after reloading", self.app)
            _log.info("%s", describe(tx))
        else:
            _log.error("%s", describe(tx))


class WSGIReloader(_Reloader):
    """A WSGI application serving ``app`` (an object, or ``"module:attr"``,
    looked up again after each applied change) and applying ``watch``'s
    changes between requests (see the module docstring)."""

    def __call__(self, environ: Any, start_response: Any) -> Iterable[bytes]:
        self.gate.enter(self.watch, self.apply)
        try:
            body = self.current(environ, start_response)
        except BaseException:
            self.gate.leave()
            raise
        return _Closing(body, self.gate.leave)


class ASGIReloader(_Reloader):
    """The ASGI counterpart of :class:`WSGIReloader`, for one event loop:
    a change waits for the running requests, and new requests wait for it.
    Lifespan and other non-HTTP scopes pass through."""

    def __init__(self, app: App, watch: Watch) -> None:
        super().__init__(app, watch)
        self._running = 0
        self._idle: Optional[asyncio.Event] = None
        self._applying: Optional[asyncio.Event] = None  # set while no change runs

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope.get("type") not in ("http", "websocket"):
            await self.current(scope, receive, send)
            return
        await self._enter()
        try:
            await self.current(scope, receive, send)
        finally:
            self._running -= 1
            if self._running == 0 and self._idle is not None:
                self._idle.set()

    async def _enter(self) -> None:
        if self._applying is None:
            self._applying, self._idle = asyncio.Event(), asyncio.Event()
            self._applying.set()
        assert self._idle is not None
        await self._applying.wait()
        if self.watch.pending():
            self._applying.clear()
            try:
                while self._running:
                    self._idle.clear()
                    await self._idle.wait()
                self.apply()
            finally:
                self._applying.set()
        self._running += 1
