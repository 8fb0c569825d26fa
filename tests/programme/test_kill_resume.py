"""A test killed with SIGKILL at a random point resumes with every answer, none twice
(the speaking and writing tasks after the items included)."""

import os
import random
import signal

import numpy as np
import pytest
from sqlalchemy import select
from support.programme import NOW, new_programme, simulated_answer

from lang_assess.programme.rules import load_config
from lang_assess.programme.service import Service
from lang_assess.programme.store.db import make_engine
from lang_assess.programme.store.models import Estimate, RatedAnswer, Response, TestRun

pytestmark = pytest.mark.db

RUNS = 50


def child(url, bank, code, write_fd, seed):
    """The process that gets killed: answers items and reports each stored answer."""
    try:
        svc = Service(make_engine(url), bank, load_config(), clock=lambda: NOW)
        who = svc.login_participant(code)
        rng = np.random.default_rng(seed)
        view = svc.start_or_resume(who)
        while view is not None:
            done = view
            view = svc.answer(who, view.session_id, view.item_id, simulated_answer(bank, view, rng))
            os.write(write_fd, f"{done.position} {done.item_id}\n".encode())
    finally:
        os._exit(0)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_fifty_kills_at_random_points(tmp_path, nb_bank):
    url = f"sqlite:///{tmp_path / 'kill.sqlite'}"
    people = new_programme(url, nb_bank, RUNS, prefix="K")
    rnd = random.Random(11)
    for run, person in enumerate(people):
        kill_after = rnd.randint(0, 20)  # answers reported before the kill
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read_fd)
            child(url, nb_bank, person.code, write_fd, seed=run)
        os.close(write_fd)
        reported, buffer = [], b""
        with os.fdopen(read_fd, "rb", buffering=0) as pipe:
            while len(reported) < kill_after:
                chunk = pipe.read(4096)
                if not chunk:
                    break
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                reported += [tuple(line.decode().split()) for line in lines]
            # somewhere inside the next answer's transaction, or between two
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)

        resumed = Service(make_engine(url), nb_bank, load_config(), clock=lambda: NOW)
        who = resumed.login_participant(person.code)
        with resumed.engine.connect() as conn:
            rows = conn.execute(
                select(Response.position, Response.item_id)
                .join(TestRun).where(TestRun.participant_id == person.participant_id)
                .order_by(Response.position)).all()
            # the speaking and writing tasks after the items (issue 16)
            rows += conn.execute(
                select(RatedAnswer.position, RatedAnswer.item_id)
                .join(TestRun).where(TestRun.participant_id == person.participant_id)
                .order_by(RatedAnswer.position)).all()
        stored = [(str(p), i) for p, i in rows]
        assert [p for p, _ in rows] == list(range(1, len(rows) + 1)), run  # none twice
        assert stored[: len(reported)] == reported, run  # every reported answer is there
        view = resumed.start_or_resume(who)
        if view is not None:
            assert view.position == len(rows) + 1, run
        rng = np.random.default_rng(1000 + run)
        while view is not None:
            view = resumed.answer(who, view.session_id, view.item_id,
                                  simulated_answer(nb_bank, view, rng))
        with resumed.engine.connect() as conn:
            session = conn.execute(select(TestRun).where(
                TestRun.participant_id == person.participant_id)).one()
            n = conn.execute(select(Response.id).where(
                Response.session_id == session.id)).all()
            assert session.finished_at is not None and len(n) == session.n_answered, run
            assert conn.execute(select(Estimate).where(
                Estimate.session_id == session.id)).one()
        resumed.engine.dispose()
