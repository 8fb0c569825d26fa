"""Inside a page's kernel: who loaded this page, as the page server saw it.

The guarded page server (:mod:`lang_assess.ui.guard`) tells each kernel, on asking
with a secret only kernels have, its page's client: address, device cookie, query
string.  The pages pass that to the service's logins
(:class:`~lang_assess.programme.service.ClientInfo`) so the limits count per client.
Outside the guarded server (a notebook, a test) there is no page: :func:`page_info`
returns None and the logins count everyone as one local client.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from typing import Any

from lang_assess.programme.service import ClientInfo

GUARD_URL_ENV, GUARD_SECRET_ENV = "LANG_ASSESS_GUARD_URL", "LANG_ASSESS_GUARD_SECRET"
SECRET_HEADER = "X-Lang-Assess-Kernel"


def page_info(*, wait: bool = False, timeout: float | None = 10.0) -> dict[str, Any] | None:
    """This kernel's page: ``address``, ``device``, ``query``, ``languages``, ``tls``,
    ``kernel``; None outside a guarded page server.  ``wait``: block until the kernel is
    handed to a page (a preheated kernel runs its notebook before anyone asks)."""
    url, secret = os.environ.get(GUARD_URL_ENV), os.environ.get(GUARD_SECRET_ENV)
    kernel = os.environ.get("VOILA_KERNEL_ID")
    if not (url and secret and kernel):
        return None
    request = urllib.request.Request(f"{url}/lang-assess/page/{kernel}"
                                     + ("?wait=1" if wait else ""),
                                     headers={SECRET_HEADER: secret})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback only
    try:
        with opener.open(request, timeout=None if wait else timeout) as answer:
            return json.loads(answer.read())
    except (OSError, ValueError, urllib.error.URLError):
        return None


def client_info() -> ClientInfo:
    """The login client of this page (empty fields outside a guarded server)."""
    info = page_info() or {}
    return ClientInfo(address=str(info.get("address", "")),
                      device=str(info.get("device", "")),
                      page=str(info.get("kernel") or os.environ.get("VOILA_KERNEL_ID", "")))


def page_query() -> str:
    """The page's query string ("" outside a guarded server): waits for the page load
    when the kernel was preheated."""
    if os.environ.get("VOILA_KERNEL_ID") and os.environ.get(GUARD_URL_ENV):
        info = page_info(wait=True)
        return str(info.get("query", "")) if info else ""
    return os.environ.get("QUERY_STRING", "")
