"""Drive N participants at once, one process each, against one database."""

from __future__ import annotations

import json
import os
import time

import numpy as np
from sqlalchemy import func, select

from lang_assess.programme.rules import load_config
from lang_assess.programme.service import Service
from lang_assess.programme.store.db import make_engine
from lang_assess.programme.store.models import RatedAnswer, Response
from support.programme import NOW, new_programme, simulated_answer


def _worker(url, bank, codes, seconds, write_fd, seed, min_answers=0):
    """Take placement tests one participant after another until time is up and at least
    ``min_answers`` answers are in (a busy machine slows it down, never shortens it)."""
    acknowledged, errors, latencies = 0, [], []
    try:
        svc = Service(make_engine(url), bank, load_config(), clock=lambda: NOW)
        rng = np.random.default_rng(seed)
        end = time.monotonic() + seconds
        for code in codes:
            who = svc.login_participant(code)
            view = svc.start_or_resume(who)
            while view is not None and (time.monotonic() < end or acknowledged < min_answers):
                t0 = time.perf_counter()
                answer = simulated_answer(bank, view, rng)
                view = svc.answer(who, view.session_id, view.item_id, answer)
                latencies.append(time.perf_counter() - t0)
                acknowledged += 1
            if time.monotonic() >= end and acknowledged >= min_answers:
                break
    except Exception as exc:  # reported to the parent, never swallowed
        errors.append(f"{type(exc).__name__}: {exc}")
    finally:
        os.write(write_fd, json.dumps({"ack": acknowledged, "errors": errors,
                                       "lat": latencies}).encode())
        os._exit(0)


def run_concurrent(url: str, bank, *, participants: int, seconds: float,
                   min_answers: int = 0) -> dict:
    """Run ``participants`` processes answering for ``seconds`` (and until each has given
    ``min_answers``); count what was stored."""
    per_process = max(3, int(seconds / 3))  # a placement test takes a few seconds here
    enrolled = new_programme(url, bank, participants * per_process, prefix="C")
    children = []
    for k in range(participants):
        codes = [e.code for e in enrolled[k * per_process:(k + 1) * per_process]]
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read_fd)
            _worker(url, bank, codes, seconds, write_fd, seed=k, min_answers=min_answers)
        os.close(write_fd)
        children.append((pid, read_fd))
    acknowledged, errors, latencies = 0, [], []
    for pid, read_fd in children:
        with os.fdopen(read_fd, "rb") as pipe:
            data = pipe.read()
        os.waitpid(pid, 0)
        if not data:
            errors.append(f"process {pid} died without a report")
            continue
        result = json.loads(data)
        acknowledged += result["ack"]
        errors += result["errors"]
        latencies += result["lat"]
    engine = make_engine(url)
    stored = distinct = 0
    with engine.connect() as conn:  # items' answers and speaking/writing tasks' (issue 16)
        for table in (Response, RatedAnswer):
            stored += conn.scalar(select(func.count()).select_from(table))
            distinct += conn.scalar(select(func.count()).select_from(
                select(table.session_id, table.position).distinct().subquery()))
    engine.dispose()
    lat = np.array(latencies) * 1e3 if latencies else np.zeros(1)
    return {
        "participants": participants, "seconds": seconds,
        "answers_acknowledged": acknowledged, "answers_stored": stored,
        "in_flight": stored - acknowledged, "duplicates": stored - distinct, "errors": errors,
        "answers_per_s": acknowledged / seconds, "p50_ms": float(np.percentile(lat, 50)),
        "p95_ms": float(np.percentile(lat, 95)), "max_ms": float(lat.max()),
    }
