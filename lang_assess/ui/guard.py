"""The page server: Voila with the guards a public page needs (issue 19).

Run as ``python -m lang_assess.ui.guard NOTEBOOK [Voila options] [--GuardedVoila.<limit>=…]``
(:func:`lang_assess.ui.serve.voila_command` builds the line).  On top of Voila:

- **A kernel belongs to the browser it was served to.**  Every page load gets a device
  cookie (``la_device``); the kernel handed to that page is bound to it, and its
  websocket, its REST calls and its shutdown answer no other browser (404: a kernel id
  alone reaches nothing).  Voila's request-info socket (``/voila/query/<id>``) is closed;
  a kernel asks ``/lang-assess/page/<its id>`` instead, with a secret only kernels have
  (:mod:`lang_assess.ui.page_client`), for its page's address, device and query.
- **Caps.**  At most ``max_kernels`` page kernels, ``max_kernels_per_client`` for one
  address, and ``max_unconnected_per_client`` of them not (yet) connected, so a flood
  of bare page loads from one address cannot empty the pool; a page load beyond them
  gets a "busy, try again in a minute" page (503, ``Retry-After``) in the browser's
  language.  ``?template=`` and ``?theme=`` are
  ignored, so no page load starts a kernel outside these rules.
- **Culling.**  A kernel handed out but never connected is shut down after
  ``unconnected_seconds``; a connected but idle one after Jupyter's
  ``cull_idle_timeout`` (``cull_connected``); a kernel taken from the pool starts its
  idle time when handed out, and pool kernels older than ``pool_max_age`` are replaced a
  few at a time before anyone gets a stale one.
- **Headers.**  A strict Content-Security-Policy (scripts from this server only; the
  pages' template has no inline script; the only inline code admitted is the exact
  handlers of the speakers and the recording tool, by hash, and widgets' ES modules
  as ``blob:`` URLs, which only a script already running can make), no framing, no
  referrer, the microphone for this site only (speaking tasks, recordings); cookies
  ``SameSite`` and ``Secure`` when the request came over TLS (directly or from a
  ``trusted_proxies`` address's ``X-Forwarded-Proto``); no traceback or kernel error
  message ever reaches the browser; ``/logout`` ends the browser's kernels.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import contextvars
import hashlib
import hmac
import html
import json
import os
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from jupyter_server.services.kernels.handlers import KernelHandler
from jupyter_server.utils import url_path_join
from tornado import httputil, web
from tornado.ioloop import PeriodicCallback
from traitlets import Enum, Int, List, Unicode
from voila.app import Voila
from voila.request_info_handler import RequestInfoSocketHandler
from voila.shutdown_kernel_handler import VoilaShutdownKernelHandler
from voila.tornado.handler import TornadoVoilaHandler
from voila.tornado.kernel_websocket_handler import (
    VoilaKernelWebsocketHandler,
    read_header_from_binary_message,
)

from lang_assess.ui.messages import LANGUAGES, catalogue

SHARE = Path(__file__).with_name("share")  # holds voila/templates/strict
DEVICE_COOKIE = "la_device"
SECRET_HEADER = "X-Lang-Assess-Kernel"
GUARD_URL_ENV, GUARD_SECRET_ENV = "LANG_ASSESS_GUARD_URL", "LANG_ASSESS_GUARD_SECRET"


def _handler_hashes() -> str:
    """CSP sources for the inline handlers the pages draw (``'sha256-…'`` each)."""
    from lang_assess.ui.page_parts import INLINE_HANDLERS as SPEAKERS
    from lang_assess.ui.recording_tool import INLINE_HANDLERS as RECORDER

    return " ".join("'sha256-" + base64.b64encode(hashlib.sha256(h.encode()).digest())
                    .decode() + "'" for h in (*SPEAKERS, *RECORDER))


CSP = "; ".join([
    "default-src 'self'", f"script-src 'self' blob: 'unsafe-hashes' {_handler_hashes()}",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:", "media-src 'self' data:", "font-src 'self' data:",
    "connect-src 'self'", "object-src 'none'", "base-uri 'none'", "form-action 'self'",
    "frame-ancestors 'none'", "worker-src 'self' blob:",
])
HEADERS = {
    "Content-Security-Policy": CSP, "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer", "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(self), geolocation=(), payment=()",
}
_KERNEL_ID = r"(?P<kernel_id>\w+-\w+-\w+-\w+-\w+)"


@dataclass
class PageClient:
    """Who loaded a page: device cookie, address, query string, languages, TLS."""

    device: str
    address: str
    query: str
    languages: str
    tls: bool
    kernel_id: str = ""
    handed_out: float = field(default_factory=time.monotonic)
    connected: bool = False

    def info(self) -> dict[str, Any]:
        """What the page's kernel may know about its page (never the cookie's name)."""
        return {"address": self.address, "device": self.device, "query": self.query,
                "languages": self.languages, "tls": self.tls, "kernel": self.kernel_id}


# the browser of the page load being served: read when a kernel is handed to it
_CLIENT: contextvars.ContextVar[PageClient | None] = contextvars.ContextVar(
    "la_page_client", default=None)


class Guard:
    """The state of one page server: which browser owns which kernel, pages loading,
    and the settings of :class:`GuardedVoila`."""

    def __init__(self, app: GuardedVoila) -> None:
        self.app = app
        self.secret = secrets.token_urlsafe(32)
        self.owners: dict[str, PageClient] = {}
        self.loading: dict[str, int] = {}  # address -> page loads being served
        self.pool_born: dict[str, float] = {}
        self._handed: dict[str, asyncio.Event] = {}

    def in_use(self, address: str | None = None, *, unconnected: bool = False) -> int:
        """Page kernels (and page loads still waiting for one), of one address or all;
        ``unconnected``: only those whose page has not connected yet."""
        owners = [c for c in self.owners.values() if not (unconnected and c.connected)]
        if address is None:
            return len(owners) + sum(self.loading.values())
        return sum(c.address == address for c in owners) + self.loading.get(address, 0)

    def hand_out(self, kernel_id: str, client: PageClient) -> None:
        """``kernel_id`` now serves ``client``'s page."""
        client.kernel_id, client.handed_out = kernel_id, time.monotonic()
        self.owners[kernel_id] = client
        self.pool_born.pop(kernel_id, None)
        self.event(kernel_id).set()

    def event(self, kernel_id: str) -> asyncio.Event:
        """Set when ``kernel_id`` is handed to a page (or shut down)."""
        return self._handed.setdefault(kernel_id, asyncio.Event())

    def forget(self, kernel_id: str) -> None:
        """``kernel_id`` is gone."""
        self.owners.pop(kernel_id, None)
        self.pool_born.pop(kernel_id, None)
        event = self._handed.pop(kernel_id, None)
        if event is not None:
            event.set()  # a kernel waiting for its page learns it has none
        RequestInfoSocketHandler._cache.pop(kernel_id, None)

    def owns(self, handler: web.RequestHandler, kernel_id: str) -> bool:
        """Whether the request comes from the browser the kernel was handed to."""
        owner = self.owners.get(kernel_id)
        device = handler.get_cookie(DEVICE_COOKIE) or ""
        return owner is not None and bool(device) and hmac.compare_digest(
            owner.device.encode(), device.encode())


def client_address(request: httputil.HTTPServerRequest, trusted: list[str]) -> str:
    """The client's address: the peer's, or — from a trusted proxy — the nearest
    X-Forwarded-For address that is not itself a trusted proxy."""
    address = request.remote_ip or ""
    if address in trusted:
        hops = [h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",")]
        for hop in reversed(hops):
            if hop and hop not in trusted:
                return hop
    return address


def request_is_tls(request: httputil.HTTPServerRequest, trusted: list[str]) -> bool:
    """Whether the browser's connection was TLS (directly, or at a trusted proxy)."""
    if request.protocol == "https":
        return True
    forwarded = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    return (request.remote_ip or "") in trusted and forwarded == "https"


def preferred_language(accept_language: str) -> str:
    """The first participant language in an Accept-Language header (default nb)."""
    aliases = {"no": "nb", "nn": "nb", "fa": "prs", "fa-af": "prs", "ti-er": "ti",
               "ti-et": "ti"}
    ranked = []
    for n, part in enumerate(accept_language.split(",")):
        tag, _, q = part.strip().partition(";q=")
        try:
            weight = float(q) if q else 1.0
        except ValueError:
            weight = 0.0
        ranked.append((-weight, n, tag.strip().lower()))
    for _, _, tag in sorted(ranked):
        code = aliases.get(tag) or aliases.get(tag.split("-")[0]) or tag.split("-")[0]
        if code in LANGUAGES:
            return code
    return "nb"


def message_page(accept_language: str, keys: tuple[str, str], link: str = "/") -> str:
    """A small page in the browser's language (then bokmål and English), no script."""
    first = preferred_language(accept_language)
    parts = []
    for code in dict.fromkeys((first, "nb", "en")):
        cat = catalogue(code)
        lang = LANGUAGES[code]
        parts.append(
            f'<section lang="{code}" dir="{lang.direction}"><h1>'
            f"{html.escape(cat.text(keys[0]))}</h1><p>{html.escape(cat.text(keys[1]))}</p>"
            f'<p><a href="{html.escape(link)}">{html.escape(cat.text("busy.retry"))}</a>'
            "</p></section>")
    return ("<!doctype html><html lang=\"" + first + "\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            "<title>" + html.escape(catalogue(first).text(keys[0])) + "</title><style>"
            "body{font-family:sans-serif;font-size:20px;max-width:40em;margin:2em auto;"
            "padding:0 1em;color:#1a1a1a}section{margin-bottom:2em}a{color:#0b57d0}"
            "</style></head><body>" + "".join(parts) + "</body></html>")


class _GuardedMixin:
    """Cookies with SameSite and (over TLS) Secure; the guard of this server."""

    @property
    def guard(self) -> Guard:
        return self.settings["la_guard"]  # type: ignore[attr-defined]

    def set_cookie(self, name: str, value: str | bytes, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("samesite", "Strict")
        if request_is_tls(self.request, self.guard.app.trusted_proxies):  # type: ignore[attr-defined]
            kwargs["secure"] = True
        super().set_cookie(name, value, *args, **kwargs)  # type: ignore[misc]


class GuardedPageHandler(_GuardedMixin, TornadoVoilaHandler):
    """The page: busy page beyond the caps, a device cookie, no template/theme switch."""

    async def prepare(self) -> None:
        """Check the caps; give the browser its device cookie; note who is asking."""
        await super().prepare()
        for name in ("template", "theme"):  # never leave the pool's template
            self.request.arguments.pop(name, None)
            self.request.query_arguments.pop(name, None)
        if self.path_args and self.path_args[0]:
            return  # not the page: Voila redirects it to the (empty) file allowlist
        app = self.guard.app
        address = client_address(self.request, app.trusted_proxies)
        if (self.guard.in_use() >= app.max_kernels
                or self.guard.in_use(address) >= app.max_kernels_per_client
                or self.guard.in_use(address, unconnected=True)
                >= app.max_unconnected_per_client):
            self.log.warning("busy: %d page kernels, %d for this client",
                             self.guard.in_use(), self.guard.in_use(address))
            self.set_status(503)
            self.set_header("Retry-After", str(app.busy_retry_seconds))
            self.set_header("Content-Type", "text/html; charset=utf-8")
            again = self.base_url + (f"?{self.request.query}" if self.request.query else "")
            self.finish(message_page(self.request.headers.get("Accept-Language", ""),
                                     ("busy.title", "busy.text"), again))
            return
        # the page's own shutdown on leaving (Voila's sendBeacon) sends this token: with
        # the cookie in place a closed tab's kernel goes at once, not after the idle time
        self.xsrf_token  # noqa: B018 - sets the _xsrf cookie (SameSite, Secure over TLS)
        device = self.get_cookie(DEVICE_COOKIE) or ""
        if len(device) < 32 or not device.replace("-", "").replace("_", "").isalnum():
            device = secrets.token_urlsafe(32)
            self.set_cookie(DEVICE_COOKIE, device, httponly=True, samesite="Lax",
                            expires_days=180, path=self.base_url)
        self._address = address
        self.guard.loading[address] = self.guard.loading.get(address, 0) + 1
        _CLIENT.set(PageClient(device, address, self.request.query,
                               self.request.headers.get("Accept-Language", ""),
                               request_is_tls(self.request, app.trusted_proxies)))

    def on_finish(self) -> None:
        """The page load is over: it no longer counts as loading."""
        address = getattr(self, "_address", None)
        if address is not None:
            left = self.guard.loading.get(address, 1) - 1
            if left > 0:
                self.guard.loading[address] = left
            else:
                self.guard.loading.pop(address, None)
        super().on_finish()


class GuardedWebsocketHandler(_GuardedMixin, VoilaKernelWebsocketHandler):
    """The kernel's websocket: its owner only; no error or stderr message passes."""

    async def pre_get(self) -> None:
        """Refuse any browser but the kernel's owner (404, before the upgrade)."""
        if not self.guard.owns(self, self.kernel_id):
            self.log.warning("refused a websocket to kernel %s from another browser",
                             self.kernel_id)
            raise web.HTTPError(404)
        await super().pre_get()

    async def open(self, kernel_id: str) -> None:  # type: ignore[override]
        """Note that the page connected (it is no longer culled as unconnected)."""
        owner = self.guard.owners.get(kernel_id)
        if owner is not None:
            owner.connected = True
        await super().open(kernel_id)

    def write_message(self, message: Any, binary: bool = False) -> Any:
        """Pass what the page needs; drop kernel errors and stderr (tracebacks, paths)."""
        if isinstance(message, bytes):
            header = read_header_from_binary_message(message)
            content = None
        elif isinstance(message, dict):
            header, content = message.get("header"), message.get("content")
        else:
            header = content = None
            try:
                parsed = json.loads(message)
                header, content = parsed.get("header"), parsed.get("content")
            except (TypeError, ValueError):
                pass
        msg_type = (header or {}).get("msg_type")
        if msg_type == "error" or (msg_type == "stream" and (
                content is None or content.get("name") == "stderr")):
            return None
        return super().write_message(message, binary)


class GuardedKernelHandler(_GuardedMixin, KernelHandler):
    """``/api/kernels/<id>``: the owner only."""

    async def prepare(self) -> None:
        """404 for anyone but the kernel's owner."""
        await super().prepare()
        if not self.guard.owns(self, self.path_kwargs.get("kernel_id") or self.path_args[0]):
            raise web.HTTPError(404)


class GuardedShutdownHandler(_GuardedMixin, VoilaShutdownKernelHandler):
    """The page's shutdown call on leaving: the owner only."""

    async def prepare(self) -> None:
        """404 for anyone but the kernel's owner."""
        await super().prepare()
        kernel_id = self.path_args[0] if self.path_args else ""
        if not self.guard.owns(self, kernel_id):
            raise web.HTTPError(404)


class ClosedHandler(web.RequestHandler):
    """What is closed (Voila's request-info socket): 404 for everyone."""

    def prepare(self) -> None:
        """Refuse."""
        raise web.HTTPError(404)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """A bare status, no details."""
        self.finish(f"{status_code}")


class PageInfoHandler(web.RequestHandler):
    """``/lang-assess/page/<kernel id>``: a kernel learns its page's client.  Only with
    the kernels' secret; ``?wait=1`` waits until the kernel is handed to a page."""

    async def get(self, kernel_id: str) -> None:
        """The page's client as JSON, or 404."""
        guard: Guard = self.settings["la_guard"]
        given = self.request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), guard.secret.encode()):
            raise web.HTTPError(404)
        if kernel_id not in guard.owners and self.get_argument("wait", "") == "1":
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(guard.event(kernel_id).wait(),
                                       guard.app.pool_max_age + 600)
        owner = guard.owners.get(kernel_id)
        if owner is None:
            raise web.HTTPError(404)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(owner.info()))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """A bare status, no details."""
        self.finish(f"{status_code}")


class LogoutHandler(_GuardedMixin, web.RequestHandler):
    """``/logout``: end this browser's kernels (not from another site) and say so."""

    async def get(self) -> None:
        """Shut down the kernels this browser owns; a page with a link back."""
        guard: Guard = self.settings["la_guard"]
        if self.request.headers.get("Sec-Fetch-Site", "same-origin") in ("same-origin",
                                                                         "none"):
            device = self.get_cookie(DEVICE_COOKIE) or ""
            mine = [k for k, c in guard.owners.items() if device and c.device == device]
            for kernel_id in mine:
                await guard.app.kernel_manager.shutdown_kernel(kernel_id)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        for name, value in HEADERS.items():
            self.set_header(name, value)
        self.finish(message_page(self.request.headers.get("Accept-Language", ""),
                                 ("logout.title", "logout.text")))

    post = get


class ProxyHeaders(web.OutputTransform):
    """Applies a trusted proxy's X-Forwarded-For and X-Forwarded-Proto to the request
    before any handler runs (Tornado's own ``xheaders`` would trust anyone's)."""

    trusted: ClassVar[list[str]] = []

    def __init__(self, request: httputil.HTTPServerRequest) -> None:
        super().__init__(request)
        if self.trusted and (request.remote_ip or "") in self.trusted:
            tls = request_is_tls(request, self.trusted)
            request.remote_ip = client_address(request, self.trusted)
            request.protocol = "https" if tls else request.protocol


def guarded_kernel_manager(base: type) -> type:
    """Voila's kernel manager class ``base`` with the hand-out bookkeeping, the culling
    of unconnected kernels and the recycling of stale pool kernels."""

    class GuardedKernelManager(base):  # type: ignore[misc, valid-type]
        @property
        def guard(self) -> Guard:
            return self.parent.guard

        def _hand_out(self, kernel_id: str) -> None:
            client = _CLIENT.get()
            if client is None:
                return
            self.guard.hand_out(kernel_id, client)
            kernel = self.get_kernel(kernel_id)
            from jupyter_server._tz import utcnow

            kernel.last_activity = utcnow()  # idle from now, not from its time in the pool

        async def get_rendered_notebook(self, *args: Any, **kwargs: Any) -> Any:
            result = await super().get_rendered_notebook(*args, **kwargs)
            self._hand_out(result[2])
            return result

        async def start_kernel(self, *args: Any, **kwargs: Any) -> str:
            # only the page handler's own start (pool empty) arrives here; the pool
            # starts its kernels through the base class
            kernel_id = await super().start_kernel(*args, **kwargs)
            if (kwargs.get("env") or {}).get("VOILA_PREHEAT") == "False":
                self._hand_out(kernel_id)
            return kernel_id

        async def _initialize(self, notebook_path: str, kernel_id: str | None = None,
                              **kwargs: Any) -> Any:
            result = await super()._initialize(notebook_path, kernel_id, **kwargs)
            self.guard.pool_born[result["kernel_id"]] = time.monotonic()
            return result

        async def shutdown_kernel(self, kernel_id: str, *args: Any, **kwargs: Any) -> Any:
            self.guard.forget(kernel_id)
            return await super().shutdown_kernel(kernel_id, *args, **kwargs)

        async def cull_kernel_if_idle(self, kernel_id: str) -> Any:
            owner = self.guard.owners.get(kernel_id)
            waited = time.monotonic() - owner.handed_out if owner else 0.0
            if (owner is not None and not owner.connected
                    and self._kernel_connections.get(kernel_id, 0) == 0
                    and waited > self.parent.unconnected_seconds):
                self.log.warning("culling kernel %s: its page never connected (%.0f s)",
                                 kernel_id, waited)
                await self.shutdown_kernel(kernel_id)
                return None
            return await super().cull_kernel_if_idle(kernel_id)

        async def recycle_pool(self) -> None:
            """Replace pool kernels older than ``pool_max_age`` (a few per call)."""
            limit, now = self.parent.pool_recycle_per_interval, time.monotonic()
            for notebook, pool in list(self._pools.items()):
                stale = []
                for task in pool:
                    if task.done() and not task.cancelled() and task.exception() is None:
                        kid = task.result()["kernel_id"]
                        born = self.guard.pool_born.get(kid, now)
                        if now - born > self.parent.pool_max_age:
                            stale.append(task)
                for task in stale[:limit]:
                    pool.remove(task)
                    content = task.result()
                    content["task"].cancel()
                    self.log.info("recycling pool kernel %s (stale)", content["kernel_id"])
                    await self.shutdown_kernel(content["kernel_id"])
                if stale:
                    self.fill_if_needed(delay=0, notebook_name=notebook)

    return GuardedKernelManager


class GuardedVoila(Voila):
    """Voila with the guards of this module; the limits are settings
    (``--GuardedVoila.max_kernels=60``); lang_assess.ui.serve sets them explicitly."""

    max_kernels = Int(60, config=True, help="page kernels in use on this server at most")
    max_kernels_per_client = Int(30, config=True, help="page kernels of one address at most")
    max_unconnected_per_client = Int(
        10, config=True, help="page kernels of one address whose page has not connected yet "
        "(a browser connects within seconds; a flood of bare page loads never does)")
    unconnected_seconds = Int(120, config=True,
                              help="a page kernel whose page never connected is culled then")
    pool_max_age = Int(3600, config=True, help="seconds before a pool kernel is replaced")
    pool_recycle_per_interval = Int(2, config=True,
                                    help="stale pool kernels replaced per cull interval")
    busy_retry_seconds = Int(60, config=True, help="Retry-After of the busy page")
    trusted_proxies = List(Unicode(), default_value=[], config=True,
                           help="addresses of reverse proxies whose X-Forwarded-For and "
                                "X-Forwarded-Proto are believed")
    secure_cookies = Enum(["auto", "always"], default_value="auto", config=True,
                          help="Secure cookies: when the request came over TLS, or always")

    def initialize(self, argv: list[str] | None = None) -> None:
        """Find the pages' template; give kernels the way back to this server."""
        os.environ["JUPYTER_PATH"] = os.pathsep.join(
            p for p in (str(SHARE), os.environ.get("JUPYTER_PATH", "")) if p)
        super().initialize(argv)
        self.guard = Guard(self)
        # the kernels reach this server where it listens (loopback when on every address)
        host = self.ip if self.ip not in ("", "0.0.0.0", "::", "localhost") else "127.0.0.1"
        host = f"[{host}]" if ":" in host else host
        os.environ[GUARD_URL_ENV] = f"http://{host}:{self.port}"
        os.environ[GUARD_SECRET_ENV] = self.guard.secret
        self.port_retries = 0  # the kernels must find this very port

    def init_settings(self) -> dict[str, Any]:
        """Voila's settings with the guarded kernel manager, headers and cookies."""
        import voila.app as voila_app

        original = voila_app.voila_kernel_manager_factory
        voila_app.voila_kernel_manager_factory = (  # type: ignore[assignment]
            lambda *a, **k: guarded_kernel_manager(original(*a, **k)))
        try:
            settings = super().init_settings()
        finally:
            voila_app.voila_kernel_manager_factory = original  # type: ignore[assignment]
        cookie = {"samesite": "Strict"}
        if self.secure_cookies == "always":
            cookie["secure"] = True  # type: ignore[assignment]
        settings.update(la_guard=self.guard, headers=dict(HEADERS),
                        xsrf_cookie_kwargs=cookie, serve_traceback=False)
        self.identity_provider.cookie_options = {**cookie,
                                                 **self.identity_provider.cookie_options}
        if self.secure_cookies == "always":
            self.identity_provider.secure_cookie = True
        return settings

    def init_handlers(self) -> list:
        """Voila's handlers with the guarded ones in their place, Voila's login,
        logout and request-info routes replaced, and the kernels' page-info route."""
        swap = {TornadoVoilaHandler: GuardedPageHandler,
                VoilaKernelWebsocketHandler: GuardedWebsocketHandler,
                KernelHandler: GuardedKernelHandler,
                VoilaShutdownKernelHandler: GuardedShutdownHandler,
                RequestInfoSocketHandler: ClosedHandler}
        login = {h[1] for h in self.identity_provider.get_handlers()}
        ours = [
            (url_path_join(self.server_url, r"/lang-assess/page/" + _KERNEL_ID),
             PageInfoHandler),
            (url_path_join(self.server_url, r"/logout"), LogoutHandler),
            (url_path_join(self.server_url, r"/voila/query/.*"), ClosedHandler),
        ]
        handlers = []
        for spec in super().init_handlers():
            if spec[1] in login:
                continue
            handlers.append((spec[0], swap.get(spec[1], spec[1]), *spec[2:]))
        ProxyHeaders.trusted = list(self.trusted_proxies)
        self.app.add_transform(ProxyHeaders)
        recycle = PeriodicCallback(self.kernel_manager.recycle_pool,
                                   1000 * max(10, self.kernel_manager.cull_interval))
        recycle.start()
        return ours + handlers


def main() -> None:
    """Start one page server (``python -m lang_assess.ui.guard NOTEBOOK …``)."""
    GuardedVoila.launch_instance()


if __name__ == "__main__":
    main()
