"""What every part of the service shares: the database, the bank, the rules, the clock."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from lang_assess.bank.literacy import is_routing_item
from lang_assess.bank.loader import Bank
from lang_assess.engine.irt.params import ItemParameters
from lang_assess.engine.levels import CutScores
from lang_assess.programme.rules import ProgrammeConfig
from lang_assess.programme.store.db import session_factory
from lang_assess.programme.store.models import AuditLog, utcnow

if TYPE_CHECKING:
    from lang_assess.programme.service.access import TeacherContext


class ServiceBase:
    """The state a :class:`~lang_assess.programme.service.Service` holds.

    ``clock`` returns the current time (UTC) of the programme's calendar (weeks since
    intake, audit entries); tests and the demo pass their own and move it by weeks.
    ``wall_clock`` is real time for what security counts (login limits, teacher
    sessions), so a simulated week does not end a session; tests of those pass their own.
    """

    def __init__(
        self,
        engine: Engine,
        bank: Bank,
        config: ProgrammeConfig,
        *,
        clock: Callable[[], dt.datetime] = utcnow,
        wall_clock: Callable[[], dt.datetime] = utcnow,
        seed: int | None = None,
    ) -> None:
        self.engine = engine
        self.bank = bank
        self.config = config
        self.clock = clock
        self.wall_clock = wall_clock
        self._db = session_factory(engine)
        self._seeds = np.random.default_rng(seed)
        self._designs = {k: bank.design(k) for k in ("placement", "progress")}
        if bank.config.designs["placement"].routing is not None and any(
                is_routing_item(bank.items[i]) for i in bank.item_ids):
            # for participants who may not read: the routing stage first (a bank with no
            # audio-and-picture items, e.g. one imported from another tool, has none)
            self._designs["placement_routed"] = bank.design("placement", routing=True)
        self._params: dict[str, ItemParameters] = {bank.config.params_version: bank.params}
        self._cuts: tuple[int, CutScores] = (-1, bank.cuts)

    def _audit(self, db: Session, actor: TeacherContext, action: str, entity: str,
               entity_id: int | None, reason: str | None, detail: dict[str, Any]) -> None:
        db.add(AuditLog(at=self.clock(), actor=actor.username, action=action, entity=entity,
                        entity_id=entity_id, reason=reason, detail=detail))


def _aware(t: dt.datetime) -> dt.datetime:
    """SQLite returns naive datetimes for timezone-aware columns: they are UTC."""
    return t if t.tzinfo is not None else t.replace(tzinfo=dt.UTC)

