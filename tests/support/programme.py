"""Helpers the database tests share: a fresh programme, and simulated answers."""

from __future__ import annotations

import datetime as dt

import numpy as np

from lang_assess.programme.rules import load_config
from lang_assess.programme.service import Enrolled, Intake, ItemView, Service
from lang_assess.programme.store.db import make_engine, migrate

NOW = dt.datetime(2026, 9, 7, 9, 0, tzinfo=dt.UTC)


def new_programme(url: str, bank, n_participants: int, *, prefix: str = "P"
                  ) -> list[Enrolled]:
    """Migrate a fresh database at ``url``, enrol ``n_participants`` in one cohort."""
    engine = make_engine(url)
    migrate(engine)
    svc = Service(engine, bank, load_config(), clock=lambda: NOW, seed=5)
    org = svc.create_organisation("Test programme")
    svc.create_teacher(org, "teacher", "lærer-passord-1")
    teacher = svc.login_teacher("teacher", "lærer-passord-1")
    cohort = svc.create_cohort(teacher, "Inntak", NOW.date())
    people = svc.enrol(teacher, cohort, [Intake(f"{prefix}{i:04d}", "ar")
                                         for i in range(n_participants)])
    engine.dispose()
    return people


def simulated_answer(bank, view: ItemView, rng: np.random.Generator,
                     p_right: float = 0.6) -> str:
    """Right with probability ``p_right``; otherwise a wrong option (or a wrong order).
    A writing task gets a short text (or is skipped), a speaking task is skipped."""
    item = bank.items[view.item_id]
    if item.skill == "writing":  # a rated task: a short text (a teacher scores it)
        return "Jeg heter Amal. Jeg bor i Kristiansand." if rng.random() < p_right else ""
    if item.skill == "speaking":
        return ""  # "I cannot": a recording is sent with submit_recording
    right = rng.random() < p_right
    if item.type == "ordering":
        return "".join(item.key) if right else "".join(o.id for o in item.options)
    wrong = [o.id for o in item.options if o.id != item.key[0]]
    return item.key[0] if right else wrong[0]
