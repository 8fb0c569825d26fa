"""A participant without a browser: the Jupyter widget protocol over a page's websocket.

What the page's JavaScript does, in Python: GET the page (cookies kept, so a proxy's
route cookie works), read the kernel id from Voila's page config, open the kernel's
websocket, ask the kernel for every widget's state (``comm_info_request`` then
``request_state``, as ipywidgets 8's manager does) and keep the models up to date from
``comm_open``/``update`` messages.  Actions are the messages a browser sends: a button
click is a ``custom`` ``click`` event, typing sets a ``value``.  Used where a real
Chromium per participant would be too heavy (tens of participants at once).
"""

from __future__ import annotations

import asyncio
import http.client
import http.cookiejar
import json
import re
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from tornado.httpclient import HTTPClientError, HTTPRequest
from tornado.websocket import (
    WebSocketClientConnection,
    WebSocketClosedError,
    websocket_connect,
)

WIDGET = "jupyter.widget"
_PAGE_LOADS = ThreadPoolExecutor(max_workers=128, thread_name_prefix="page-load")


class PageGone(Exception):
    """The page's server or kernel went away (connection closed)."""


class PageBusy(PageGone):
    """The server answered with its busy page (503: every kernel it may start is in use,
    or too many pages of this address are still connecting); try again shortly."""


class WidgetPage:
    """One page view of a Voila page and its kernel, driven by messages."""

    def __init__(self, url: str, jar: http.cookiejar.CookieJar | None = None) -> None:
        self.url = url.rstrip("/") + "/"
        self.jar = jar if jar is not None else http.cookiejar.CookieJar()
        self.models: dict[str, dict[str, Any]] = {}
        self.session = uuid.uuid4().hex
        self.ws: WebSocketClientConnection | None = None
        self.kernel_id = ""
        self.errors: list[str] = []  # tracebacks and stderr the kernel sent

    # ---- connection ------------------------------------------------------------------
    async def open(self, timeout: float = 120) -> None:
        """Load the page, connect to its kernel and read every widget's state."""
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        # page loads get their own threads: in the default pool they would starve the
        # resolver that websocket connections use (seen with 60 pages at once)
        try:
            html = await asyncio.get_running_loop().run_in_executor(
                _PAGE_LOADS, lambda: opener.open(self.url, timeout=timeout).read().decode())
        except urllib.error.HTTPError as exc:
            if exc.code == 503:
                raise PageBusy(f"busy page: {exc!r}") from exc
            raise PageGone(f"page did not load: {exc!r}") from exc
        except (OSError, http.client.HTTPException) as exc:  # a server gone mid-page
            raise PageGone(f"page did not load: {exc!r}") from exc
        match = re.search(r'"kernelId":\s*"([0-9a-f-]+)"', html)
        if not match:
            # a page cut off mid-stream (its server or the proxy gave up on it)
            raise PageGone(f"no kernel id in the page ({len(html)} characters)")
        self.kernel_id = match.group(1)
        cookies = "; ".join(f"{c.name}={c.value}" for c in self.jar)
        ws_url = (self.url.replace("http", "ws", 1)
                  + f"api/kernels/{self.kernel_id}/channels?session_id={self.session}")
        try:
            self.ws = await websocket_connect(HTTPRequest(
                ws_url, headers={"Cookie": cookies}, connect_timeout=timeout))
        except (OSError, HTTPClientError) as exc:  # its kernel's server is gone
            raise PageGone(f"no websocket to the page's kernel: {exc!r}") from exc
        reply = await self.request("comm_info_request", {"target_name": WIDGET},
                                   "comm_info_reply")
        for comm_id in reply["content"]["comms"]:
            self.models.setdefault(comm_id, {})
            await self.send_comm(comm_id, {"method": "request_state"})
        # every model's state, however slow a busy kernel is to send it (a quiet spell
        # alone returned early under load, and the first click then missed its button)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while any("_model_name" not in self.models.get(c, {})
                  for c in reply["content"]["comms"]):
            await self._receive(max(deadline - loop.time(), 0.1))
        await self.settle()

    async def close(self) -> None:
        """Close the websocket (the kernel stays, as when a tab closes)."""
        if self.ws is not None:
            self.ws.close()
            self.ws = None

    # ---- messages ----------------------------------------------------------------------
    def _message(self, msg_type: str, content: dict, channel: str = "shell") -> dict:
        return {"header": {"msg_id": uuid.uuid4().hex, "msg_type": msg_type,
                           "username": "test", "session": self.session, "version": "5.3",
                           "date": ""},
                "parent_header": {}, "metadata": {}, "content": content, "buffers": [],
                "channel": channel}

    async def _send(self, msg: dict) -> str:
        if self.ws is None:
            raise PageGone("not connected")
        try:
            await self.ws.write_message(json.dumps(msg))
        except WebSocketClosedError as exc:  # the page's server died
            raise PageGone("websocket closed") from exc
        return msg["header"]["msg_id"]

    async def request(self, msg_type: str, content: dict, reply_type: str,
                      timeout: float = 60) -> dict:
        """Send a shell request and wait for its reply (other messages are applied)."""
        msg_id = await self._send(self._message(msg_type, content))
        while True:
            msg = await self._receive(timeout)
            if msg["msg_type"] == reply_type and msg["parent_header"].get("msg_id") == msg_id:
                return msg

    async def send_comm(self, comm_id: str, data: dict) -> str:
        """A ``comm_msg`` to a widget model; returns its message id."""
        return await self._send(self._message("comm_msg", {"comm_id": comm_id, "data": data}))

    async def handled(self, msg_id: str, timeout: float = 120) -> None:
        """Wait until the kernel has handled message ``msg_id`` (its ``idle`` status);
        every message on the way is applied."""
        while True:
            msg = await self._receive(timeout)
            if (msg["msg_type"] == "status" and msg["content"].get("execution_state") == "idle"
                    and msg["parent_header"].get("msg_id") == msg_id):
                return

    async def _receive(self, timeout: float) -> dict:
        if self.ws is None:
            raise PageGone("not connected")
        try:
            raw = await asyncio.wait_for(self.ws.read_message(), timeout)
        except TimeoutError as exc:
            raise PageGone("no message from the kernel") from exc
        if raw is None:
            raise PageGone("websocket closed")
        msg = json.loads(raw)
        msg["msg_type"] = msg.get("msg_type") or msg["header"]["msg_type"]
        self._apply(msg)
        return msg

    def _apply(self, msg: dict) -> None:
        content = msg.get("content", {})
        if msg["msg_type"] == "comm_open" and content.get("target_name") == WIDGET:
            self.models[content["comm_id"]] = dict(content["data"].get("state", {}))
        elif msg["msg_type"] == "comm_msg":
            data = content.get("data", {})
            if data.get("method") in ("update", "echo_update"):
                self.models.setdefault(content["comm_id"], {}).update(data.get("state", {}))
        elif msg["msg_type"] == "comm_close":
            self.models.pop(content.get("comm_id"), None)
        elif msg["msg_type"] == "error" or (msg["msg_type"] == "stream"
                                            and content.get("name") == "stderr"):
            # what the kernel said went wrong (a callback's traceback), for failure messages
            self.errors.append(content.get("text") or "\n".join(content.get("traceback", [])))

    async def settle(self, quiet: float = 0.4, timeout: float = 60) -> None:
        """Apply messages until the kernel has been idle and silent for ``quiet`` s."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            try:
                await self._receive(quiet)
            except PageGone as exc:
                if "no message" in str(exc):
                    return
                raise
        raise PageGone("the page never settled")

    # ---- the page as a participant sees it ---------------------------------------------
    def _children(self, model_id: str) -> list[str]:
        return [c.removeprefix("IPY_MODEL_") for c in self.models.get(model_id, {})
                .get("children", []) if isinstance(c, str)]

    def shown(self) -> list[str]:
        """Ids of the widgets on screen now (depth first from the page's root box)."""
        roots = [m for m, s in self.models.items() if "la-app" in s.get("_dom_classes", [])]
        out: list[str] = []
        stack = list(reversed(roots[:1]))
        while stack:
            m = stack.pop()
            out.append(m)
            stack.extend(reversed(self._children(m)))
        return out

    def buttons(self, css_class: str | None = None) -> list[str]:
        """Enabled buttons on screen, optionally only those with ``css_class``."""
        return [m for m in self.shown()
                if self.models[m].get("_model_name") == "ButtonModel"
                and not self.models[m].get("disabled")
                and (css_class is None or css_class in self.models[m].get("_dom_classes", []))]

    def text(self) -> str:
        """All HTML shown, joined (to read positions and markers, never to decide)."""
        return "\n".join(self.models[m].get("value", "") for m in self.shown()
                         if self.models[m].get("_model_name") == "HTMLModel")

    async def click(self, model_id: str | None) -> None:
        """Click a button and wait until the kernel has handled it."""
        if model_id is None:
            raise LookupError(f"no such button on screen: {self.words()!r}")
        await self.handled(await self.send_comm(
            model_id, {"method": "custom", "content": {"event": "click"}}))

    async def type_into(self, model_id: str | None, value: str) -> None:
        """Set a text box's value (what Enter sends) and wait until it is handled."""
        if model_id is None:
            raise LookupError(f"no such text box on screen: {self.words()!r}")
        await self.handled(await self.send_comm(
            model_id, {"method": "update", "state": {"value": value}, "buffer_paths": []}))

    def words(self) -> str:
        """The screen's words, for failure messages."""
        words = re.sub(r"<style>.*?</style>|<[^>]+>", " ", self.text(), flags=re.S)
        return " ".join(words.split())[:300]

    def find(self, model_name: str, css_class: str) -> str | None:
        """The first widget on screen of ``model_name`` carrying ``css_class``."""
        return next((m for m in self.shown() if self.models[m].get("_model_name") == model_name
                     and css_class in self.models[m].get("_dom_classes", [])), None)


def wait_until_served(base: str, logs: Path, instances: int, timeout: float = 900) -> None:
    """Wait until ``lang-assess serve``'s proxy at ``base`` answers and each of its
    ``instances`` participant servers (logs in ``logs``) has a full pool of kernels: the
    Monday-morning set-up, where the pool absorbs the first page loads."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        filled = [f for f in logs.glob("participant-*.log")
                  if "Kernel pool of participant.ipynb is filled" in f.read_text()]
        if len(filled) == instances:
            break
        time.sleep(2)
    else:
        raise TimeoutError("the page servers' pools did not fill")
    with urllib.request.urlopen(base, timeout=120) as r:
        assert r.status == 200
