"""What a page server costs and how it holds under a flood (issue 19): the figures behind
the limits in ``lang_assess/ui/serve.py`` (docs/ui/serving.md).

A guarded participant server with a pool of 4 and a teacher server with a pool of 2:
memory per kernel (RSS and unique), seconds to fill the pool, bytes a participant's
browser loads, and seconds from opening the page to the first item — quiet, and while
one address sends 40 page loads.  Run: ``.venv/bin/python benchmarks/bench_serving.py``
(``make bench`` runs it).
"""

import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "tests" / "ui"))

from support.browser import PAGES, VoilaServer, chromium  # noqa: E402
from support.programme import new_programme  # noqa: E402
from test_security_browser import first_item, http  # noqa: E402

from lang_assess.bank.loader import load_bank  # noqa: E402
from lang_assess.ui.serve import (  # noqa: E402
    PARTICIPANT_LIMITS,
    TEACHER_LIMITS,
    TEACHER_PAGE,
    ServerLimits,
)

POOL = 4


def pool_ready(server: VoilaServer, size: int, start: float) -> float:
    """Seconds from ``start`` until ``size`` kernels have run the page and gone idle."""
    while len(server.kernels()) < size:
        time.sleep(0.2)
    while any(k.cpu_percent(interval=0.5) > 5 for k in server.kernels()):
        pass
    return time.monotonic() - start


def memory(server: VoilaServer) -> tuple[float, float]:
    """Median RSS and unique memory (USS) of the server's kernels, MB."""
    rss, uss = [], []
    for k in server.kernels():
        info = k.memory_full_info()
        rss.append(info.rss / 2**20)
        uss.append(info.uss / 2**20)
    return sorted(rss)[len(rss) // 2], sorted(uss)[len(uss) // 2]


def page_bytes(browser, url: str) -> int:
    page = browser.new_page()
    sizes = []
    page.on("requestfinished", lambda r: sizes.append((r.sizes() or {}).get(
        "responseBodySize", 0) or 0))
    page.goto(url, timeout=90_000)
    page.wait_for_selector(".la-lang-nb", timeout=90_000)
    page.wait_for_timeout(1000)
    page.close()
    return sum(sizes)


def main() -> None:
    data = Path(tempfile.mkdtemp(prefix="bench_serving_"))
    people = new_programme(f"sqlite:///{data / 'lang_assess.sqlite'}",
                           load_bank(REPO / "item_bank" / "nb"), 4)
    limits = ServerLimits(pool_size=POOL, max_kernels=12, max_kernels_per_client=6,
                          max_unconnected_per_client=2, cull_idle_seconds=300)
    rows = []
    start = time.monotonic()
    server = VoilaServer(data, limits=limits, trusted_proxies=("127.0.0.1",)).start()
    teachers = None
    try:
        fill = pool_ready(server, POOL, start)
        rss, uss = memory(server)
        teachers_start = time.monotonic()
        teachers = VoilaServer(data, notebook=PAGES / TEACHER_PAGE,
                               limits=ServerLimits(pool_size=2, max_kernels=4,
                                                   max_kernels_per_client=4,
                                                   cull_idle_seconds=300)).start()
        teacher_fill = pool_ready(teachers, 2, teachers_start)
        t_rss, t_uss = memory(teachers)
        with chromium() as browser:
            weight = page_bytes(browser, server.url)
            quiet = first_item(browser, server.url, people[0], "198.51.100.1")
            statuses = []
            with ThreadPoolExecutor(8) as pool:
                flood = pool.map(lambda _: statuses.append(http(
                    server.url, {"X-Forwarded-For": "203.0.113.66"})[0]), range(40))
                time.sleep(0.5)
                during = first_item(browser, server.url, people[1], "198.51.100.2")
                list(flood)
        rows = [
            ("participant kernel, RSS / unique MB", f"{rss:.0f} / {uss:.0f}"),
            ("teacher kernel, RSS / unique MB", f"{t_rss:.0f} / {t_uss:.0f}"),
            (f"pool of {POOL} participant kernels ready after server start, s", f"{fill:.1f}"),
            ("pool of 2 teacher kernels ready, s", f"{teacher_fill:.1f}"),
            ("participant page, bytes loaded", f"{weight / 2**20:.1f} MB"),
            ("first item, quiet, s", f"{quiet:.2f}"),
            ("first item during 40 page loads from one address, s", f"{during:.2f}"),
            ("the 40 page loads: served / busy (503)",
             f"{statuses.count(200)} / {statuses.count(503)}"),
        ]
    finally:
        server.kill()
        if teachers is not None:
            teachers.kill()
    load = os.getloadavg()[0]
    print(f"\n## Page servers — {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, "
          f"{psutil.virtual_memory().total / 2**30:.0f} GiB, load average {load:.1f}\n")
    print("| what | figure |\n| --- | --- |")
    for what, figure in rows:
        print(f"| {what} | {figure} |")
    for name, lim in (("participants", PARTICIPANT_LIMITS), ("teachers", TEACHER_LIMITS)):
        kernels = lim.pool_size + lim.max_kernels
        per = rss if name == "participants" else t_rss
        print(f"\n{name}: pool {lim.pool_size} + at most {lim.max_kernels} page kernels "
              f"= {kernels} × {per:.0f} MB ≈ {kernels * per / 1024:.1f} GB at the caps")


if __name__ == "__main__":
    main()
