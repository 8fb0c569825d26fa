"""Deployment figures: memory per page kernel, CPU per answer, answer latency through the
proxy with 60 participants testing at once (docs/deployment.md, docs/benchmarks.md).

    python benchmarks/bench_deployment.py [--participants 60] [--instances 3]

1. **CPU per answer.**  The service's ``answer`` in-process on PostgreSQL (CPU seconds of
   this process and of the database server per answer).
2. **Through the proxy.**  ``lang-assess serve --instances N`` on PostgreSQL, each
   server's pool preheated for its share; participants (widget protocol over the proxy's
   websockets) arrive over ``--arrival`` seconds and take their weekly test with a think
   time of 3–8 s before each answer; the time from sending "next" to the next item on
   screen.
3. **Kernel memory.**  RSS and USS of the set's page kernels (launched as the deployment
   launches them) preheated, before anyone arrives, and after the tests, beside a bare
   Python that has imported ipykernel and ipywidgets.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import numpy as np
import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from support.browser import free_port_pair  # noqa: E402
from support.pg_server import PostgresServer  # noqa: E402
from support.widget_client import PageBusy, WidgetPage, wait_until_served  # noqa: E402

from lang_assess.bank.loader import load_bank  # noqa: E402
from lang_assess.programme.rules import load_config  # noqa: E402
from lang_assess.programme.service import Intake, Service  # noqa: E402
from lang_assess.programme.store.db import make_engine, migrate  # noqa: E402

MB = 1024 * 1024


def enrol(url: str, bank, n: int, *, placed: bool) -> list[str]:
    """n participants (placement done 8 days ago when ``placed``); their codes."""
    engine = make_engine(url)
    migrate(engine)
    then = dt.datetime.now(dt.UTC) - dt.timedelta(days=8 if placed else 0)
    svc = Service(engine, bank, load_config(), seed=3, clock=lambda: then)
    stamp = time.time_ns()
    org = svc.create_organisation(f"bench {stamp}")
    svc.create_teacher(org, f"bench-{stamp}", "lærer-passord-1")
    teacher = svc.login_teacher(f"bench-{stamp}", "lærer-passord-1")
    cohort = svc.create_cohort(teacher, "bench", then.date())
    people = svc.enrol(teacher, cohort, [Intake(f"b{time.time_ns()}-{i}", "ar") for i in range(n)])
    if placed:
        rng = np.random.default_rng(1)
        for p in people:
            who = svc.login_participant(p.code)
            view = svc.start_or_resume(who)
            while view is not None:
                view = _step(svc, who, view, bank, rng)
    engine.dispose()
    return [p.code for p in people]


def _step(svc, who, view, bank, rng):
    """One answer through the service (a speaking or writing task: "I cannot")."""
    if bank.items[view.item_id].type == "rated":
        return svc.skip_task(who, view.session_id, view.item_id)
    return svc.answer(who, view.session_id, view.item_id, _answer(bank, view, rng))


def _answer(bank, view, rng) -> str:
    item = bank.items[view.item_id]
    if item.type == "ordering":
        return "".join(item.key) if rng.random() < 0.6 else "".join(o.id for o in item.options)
    wrong = [o.id for o in item.options if o.id != item.key[0]]
    return item.key[0] if rng.random() < 0.6 else wrong[0]


async def take_test(base: str, code: str, think: tuple[float, float], seed: int,
                    latencies: list[float] | None = None,
                    logged_in: Callable[[], Awaitable[None]] | None = None) -> int:
    """One participant through the widget protocol; returns answers given.

    ``logged_in`` is awaited after the code is entered (everyone starts answering
    together once every page has its kernel)."""
    rng = np.random.default_rng(seed)
    page = WidgetPage(base)
    for _ in range(100):  # a burst from one address meets the busy page (issue 19): again
        try:
            await page.open()
            break
        except PageBusy:
            await asyncio.sleep(3)
    else:
        raise RuntimeError("the page stayed busy for 5 minutes")
    await page.click(page.find("ButtonModel", "la-lang-nb"))
    await page.type_into(page.find("TextModel", "la-code"), code)
    if logged_in is not None:
        await logged_in()
    answered = 0
    while "la-end" not in page.text():
        choices = page.buttons("la-choice")
        cannot = page.buttons("la-cannot")
        if cannot:  # a speaking or writing task (issue 16): "I cannot"
            await page.click(cannot[0])
            continue
        if not choices:
            await page.click(page.buttons()[0])
            continue
        ordering = any(page.models[m].get("description") == "↺" for m in page.buttons())
        for c in choices if ordering else choices[:1]:
            await page.click(c)
        await asyncio.sleep(float(rng.uniform(*think)))
        primary = [m for m in page.buttons() if page.models[m].get("button_style") == "primary"]
        start = time.perf_counter()
        await page.click(primary[0])
        if latencies is not None:
            latencies.append(time.perf_counter() - start)
        answered += 1
    await page.close()
    return answered


def _kernels(proc: subprocess.Popen) -> list[psutil.Process]:
    """The participant page kernels under a ``lang-assess serve`` process set."""
    found = []
    for server in psutil.Process(proc.pid).children():
        with contextlib.suppress(psutil.NoSuchProcess):
            if "participant.ipynb" in " ".join(server.cmdline()):
                found += [k for k in server.children()
                          if "lang_assess.ui.kernel" in " ".join(k.cmdline())]
    return found


def _memory(kernels: list[psutil.Process]) -> dict[str, float]:
    """Mean and largest RSS and USS (MB) of ``kernels``."""
    full = []
    for k in kernels:
        with contextlib.suppress(psutil.NoSuchProcess):  # culled or replaced meanwhile
            full.append(k.memory_full_info())
    return {"n": len(full), "rss": statistics.mean(m.rss for m in full) / MB,
            "uss": statistics.mean(m.uss for m in full) / MB,
            "rss_max": max(m.rss for m in full) / MB, "uss_max": max(m.uss for m in full) / MB}


def bare_kernel_rss() -> float:
    """RSS (MB) of a Python that has imported only ipykernel and ipywidgets (as the page
    kernels do: no debugpy)."""
    code = ("import sys; sys.modules['debugpy'] = None; import ipykernel.kernelapp, "
            "ipykernel.ipkernel, ipywidgets; "
            "print(open('/proc/self/status').read().split('VmRSS:')[1].split()[0])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    return int(out.stdout) / 1024


def cpu_per_answer(url: str, bank, n: int = 20) -> dict[str, float]:
    """CPU ms per answer in the service (this process) and in PostgreSQL."""
    codes = enrol(url, bank, n, placed=False)
    engine = make_engine(url)
    svc = Service(engine, bank, load_config(), seed=5)
    pg_before = _postgres_cpu()
    rng, answers = np.random.default_rng(2), 0
    start = time.process_time()
    for code in codes:
        who = svc.login_participant(code)
        view = svc.start_or_resume(who)
        while view is not None:
            view = _step(svc, who, view, bank, rng)
            answers += 1
    cpu = time.process_time() - start
    pg_after = _postgres_cpu()  # before dispose: the connection's backend still runs
    engine.dispose()
    spent = sum(t - pg_before.get(pid, 0.0) for pid, t in pg_after.items())
    return {"answers": answers, "service_ms": 1000 * cpu / answers,
            "postgres_ms": 1000 * spent / answers}


def _postgres_cpu() -> dict[int, float]:
    """CPU seconds (user + system) of each PostgreSQL process now (backends come and go
    with connections, so they are matched by pid)."""
    spent = {}
    for p in psutil.process_iter(["name"]):
        if p.info["name"] == "postgres":
            with contextlib.suppress(psutil.Error):
                t = p.cpu_times()
                spent[p.pid] = t.user + t.system
    return spent


def through_proxy(url: str, bank, participants: int, instances: int,
                  arrival_s: float, pool: int) -> dict[str, float]:
    """Answer latency (s), answers/s and kernel memory with ``participants`` testing at
    once through the proxy.

    Participants arrive over ``arrival_s`` seconds (pages beyond the pools start their
    kernels then); once every page has its kernel and the pools are refilled, all of them
    take their weekly test together: the answers are timed in that steady state, kernel
    start-up apart (its cost is the page load's, docs/benchmarks.md "Page servers").
    """
    codes = enrol(url, bank, participants, placed=True)
    port = free_port_pair()
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.Popen(
            [sys.executable, "-m", "lang_assess.cli", "serve", "--port", str(port),
             "--instances", str(instances), "--pool-size", str(pool), "--db", url],
            env={**os.environ, "LANG_ASSESS_DATA": tmp}, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}/"
        try:
            latencies: list[float] = []
            wait_until_served(base, Path(tmp) / "serve" / "logs", instances)
            time.sleep(10)  # the teachers' pool and the last refills settle
            preheated = _memory(_kernels(proc))
            started: dict[str, float] = {}

            async def everyone() -> list[int]:
                arrived, go = 0, asyncio.Event()

                async def logged_in() -> None:
                    nonlocal arrived
                    arrived += 1
                    if arrived == participants:
                        await asyncio.to_thread(_settle, proc, participants + instances * pool)
                        started["at"] = time.perf_counter()
                        go.set()
                    await go.wait()

                async def one(i: int, code: str) -> int:
                    await asyncio.sleep(arrival_s * i / participants)
                    return await take_test(base, code, (3.0, 8.0), i, latencies, logged_in)

                return await asyncio.gather(*(one(i, c) for i, c in enumerate(codes)))

            answered = asyncio.run(everyone())
            wall = time.perf_counter() - started["at"]
            load = os.getloadavg()[0]
            used = _memory(_kernels(proc))
            servers = [c.memory_info().rss / MB for c in psutil.Process(proc.pid).children()
                       if "participant.ipynb" in " ".join(c.cmdline())]
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=120)
    lat = np.array(latencies)
    return {"answers": int(sum(answered)), "p50": float(np.percentile(lat, 50)),
            "p95": float(np.percentile(lat, 95)), "max": float(lat.max()),
            "answers_per_s": sum(answered) / wall, "wall_s": wall, "pool": pool,
            "load": load, "preheated": preheated, "used": used,
            "server_rss": statistics.mean(servers)}


def _settle(proc: subprocess.Popen, kernels: int, timeout: float = 600) -> None:
    """Wait until the set holds ``kernels`` participant kernels (pools refilled) and the
    machine's 1-minute load has fallen below 2."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(_kernels(proc)) >= kernels and os.getloadavg()[0] < 2.0:
            return
        time.sleep(2)
    print(f"warning: not settled after {timeout:.0f} s ({len(_kernels(proc))} kernels, load "
          f"{os.getloadavg()[0]:.1f}): the timed part starts on a busy machine",
          file=sys.stderr, flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--participants", type=int, default=60)
    ap.add_argument("--instances", type=int, default=3)
    ap.add_argument("--arrival", type=float, default=120.0,
                    help="seconds over which the participants arrive")
    ap.add_argument("--pool-size", type=int, default=4,
                    help="preheated kernels per participant server")
    args = ap.parse_args()
    bank = load_bank(REPO / "item_bank" / "nb")
    with PostgresServer() as pg:
        cpu = cpu_per_answer(pg.create_database("cpu"), bank)
        run = through_proxy(pg.create_database("load"), bank, args.participants,
                            args.instances, args.arrival, args.pool_size)
    pre, used = run["preheated"], run["used"]
    print(f"## Deployment — {dt.date.today()}, {platform.node() or 'python machine'} "
          f"({os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB; "
          f"1-min load average at the end of the test {run['load']:.1f})\n")
    print("| participant page kernel (`lang-assess serve`, PostgreSQL) | kernels | RSS MB "
          "(mean / max) | USS MB (mean / max) |\n| --- | ---: | ---: | ---: |")
    for name, m in (("preheated, before anyone arrives", pre),
                    ("after the participants' tests", used)):
        print(f"| {name} | {m['n']} | {m['rss']:.0f} / {m['rss_max']:.0f} | "
              f"{m['uss']:.0f} / {m['uss_max']:.0f} |")
    print(f"| a bare Python with ipykernel + ipywidgets imported | | {bare_kernel_rss():.0f} "
          "| |\n")
    print(f"A participant page server (Voila, without its kernels) after the tests: RSS "
          f"{run['server_rss']:.0f} MB.\n")
    print(f"CPU per answer ({cpu['answers']} answers, PostgreSQL): service "
          f"{cpu['service_ms']:.1f} ms, database server {cpu['postgres_ms']:.1f} ms.\n")
    print(f"Through nginx, {args.instances} participant servers (pool {run['pool']} each), "
          f"{args.participants} participants arriving over {args.arrival:.0f} s, then all "
          f"answering together, think time 3–8 s: {run['answers']} answers in "
          f"{run['wall_s']:.0f} s "
          f"({run['answers_per_s']:.1f}/s); answer → next item p50 "
          f"{1000 * run['p50']:.0f} ms, p95 {1000 * run['p95']:.0f} ms, max "
          f"{1000 * run['max']:.0f} ms.")


if __name__ == "__main__":
    main()
