"""Deployment figures: memory per page kernel, CPU per answer, answer latency through the
proxy with 60 participants testing at once (docs/deployment.md, docs/benchmarks.md).

    python benchmarks/bench_deployment.py [--participants 60] [--instances 3]

1. **Kernel memory.**  A participant page server with a pool of 3: RSS and USS of each
   preheated kernel, and of a kernel after a whole placement test, beside a bare ipykernel.
2. **CPU per answer.**  The service's ``answer`` in-process on PostgreSQL (CPU seconds of
   this process and of the database server per answer).
3. **Through the proxy.**  ``lang-assess serve --instances N`` on PostgreSQL; participants
   (widget protocol over the proxy's websockets) take their weekly test with a think time
   of 3–8 s before each answer; the time from sending "next" to the next item on screen.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from support.browser import VoilaServer, free_port, free_port_pair  # noqa: E402
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
                    latencies: list[float] | None = None) -> int:
    """One participant through the widget protocol; returns answers given."""
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


def kernel_memory(url: str, bank) -> dict[str, float]:
    """RSS/USS (MB) of preheated participant kernels, of one after a placement test, and of
    a bare ipykernel."""
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        code = enrol(url, bank, 1, placed=False)[0]
        server = VoilaServer(data, port=free_port(), extra_env={"LANG_ASSESS_DB": url})
        server.start()
        try:
            time.sleep(20)  # the pool fills
            pre = [k.memory_full_info() for k in server.kernels()]
            asyncio.run(take_test(server.url, code, (0.0, 0.0), 1))
            time.sleep(2)
            after = [k.memory_full_info() for k in server.kernels()]
            used = max(after, key=lambda m: m.rss)
        finally:
            server.kill()
    bare = subprocess.run(
        [sys.executable, "-c", "import resource, ipykernel.kernelapp, ipywidgets; "
         "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"],
        capture_output=True, text=True, check=True)
    return {"preheated_rss": statistics.mean(m.rss for m in pre) / MB,
            "preheated_uss": statistics.mean(m.uss for m in pre) / MB,
            "after_test_rss": used.rss / MB, "after_test_uss": used.uss / MB,
            "bare_kernel_imports_rss": int(bare.stdout) / 1024}


def cpu_per_answer(url: str, bank, n: int = 20) -> dict[str, float]:
    """CPU ms per answer in the service (this process) and in PostgreSQL."""
    codes = enrol(url, bank, n, placed=False)
    engine = make_engine(url)
    svc = Service(engine, bank, load_config(), seed=5)
    pg = [p for p in psutil.process_iter(["name"]) if p.info["name"] == "postgres"]
    pg_before = sum(p.cpu_times().user + p.cpu_times().system for p in pg)
    rng, answers = np.random.default_rng(2), 0
    start = time.process_time()
    for code in codes:
        who = svc.login_participant(code)
        view = svc.start_or_resume(who)
        while view is not None:
            view = _step(svc, who, view, bank, rng)
            answers += 1
    cpu = time.process_time() - start
    pg_after = sum(p.cpu_times().user + p.cpu_times().system for p in pg if p.is_running())
    engine.dispose()
    return {"answers": answers, "service_ms": 1000 * cpu / answers,
            "postgres_ms": 1000 * (pg_after - pg_before) / answers}


def through_proxy(url: str, bank, participants: int, instances: int) -> dict[str, float]:
    """p50/p95/max answer latency (s) and answers/s with ``participants`` at once."""
    codes = enrol(url, bank, participants, placed=True)
    port = free_port_pair()
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.Popen(
            [sys.executable, "-m", "lang_assess.cli", "serve", "--port", str(port),
             "--instances", str(instances), "--pool-size", "4", "--db", url],
            env={**os.environ, "LANG_ASSESS_DATA": tmp}, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}/"
        try:
            latencies: list[float] = []

            async def everyone() -> list[int]:
                await asyncio.sleep(0)
                return await asyncio.gather(*(take_test(base, c, (3.0, 8.0), i, latencies)
                                              for i, c in enumerate(codes)))

            wait_until_served(base, Path(tmp) / "serve" / "logs", instances)
            start = time.perf_counter()
            answered = asyncio.run(everyone())
            wall = time.perf_counter() - start
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=120)
    lat = np.array(latencies)
    return {"answers": int(sum(answered)), "p50": float(np.percentile(lat, 50)),
            "p95": float(np.percentile(lat, 95)), "max": float(lat.max()),
            "answers_per_s": sum(answered) / wall, "wall_s": wall}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--participants", type=int, default=60)
    ap.add_argument("--instances", type=int, default=3)
    args = ap.parse_args()
    bank = load_bank(REPO / "item_bank" / "nb")
    with PostgresServer() as pg:
        mem = kernel_memory(pg.create_database("mem"), bank)
        cpu = cpu_per_answer(pg.create_database("cpu"), bank)
        load = through_proxy(pg.create_database("load"), bank, args.participants,
                             args.instances)
    print(f"## Deployment — {dt.date.today()}, {platform.node() or 'python machine'} "
          f"({os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB; "
          f"load average at the end {os.getloadavg()[0]:.1f})\n")
    print("| participant kernel | RSS MB | USS MB |\n| --- | ---: | ---: |")
    print(f"| preheated (mean of the pool) | {mem['preheated_rss']:.0f} | "
          f"{mem['preheated_uss']:.0f} |")
    print(f"| after a whole placement test | {mem['after_test_rss']:.0f} | "
          f"{mem['after_test_uss']:.0f} |")
    print(f"| bare ipykernel + ipywidgets (imports only) | {mem['bare_kernel_imports_rss']:.0f}"
          " | |\n")
    print(f"CPU per answer ({cpu['answers']} answers, PostgreSQL): service "
          f"{cpu['service_ms']:.1f} ms, database server {cpu['postgres_ms']:.1f} ms.\n")
    print(f"Through nginx, {args.instances} participant servers, {args.participants} "
          f"participants at once, think time 3–8 s: {load['answers']} answers in "
          f"{load['wall_s']:.0f} s ({load['answers_per_s']:.1f}/s); answer → next item "
          f"p50 {1000 * load['p50']:.0f} ms, p95 {1000 * load['p95']:.0f} ms, max "
          f"{1000 * load['max']:.0f} ms.")


if __name__ == "__main__":
    main()
