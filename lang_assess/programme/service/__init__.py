"""The service: the only door to the database for widgets, dashboards, notebooks and CLI.

It enrols participants, runs their placement and weekly progress tests (every answer is
committed before the next item is chosen and shown), assigns CEFR levels and tracks, and
gives teachers their cohorts' progress and flags, and carries out what an admin and
data protection need (accounts, new codes, retention, export, erasure).  Every call names
who is asking (a :class:`TeacherContext` or a :class:`ParticipantContext`) and is
checked: the context's session first (:func:`~lang_assess.programme.service.access.checked`),
then a participant reaches only their own test, a teacher only their own cohorts (an
admin: the organisation's).
"""

from __future__ import annotations

from lang_assess.programme.service.access import (
    AccessDenied,
    AccessMixin,
    ParticipantContext,
    RateLimited,
    TeacherContext,
    checked,
    normalise_code,
)
from lang_assess.programme.service.admin import AdminMixin
from lang_assess.programme.service.enrolment import NOTE_MAX, Enrolled, EnrolmentMixin, Intake
from lang_assess.programme.service.items import ItemView, OptionView, item_view
from lang_assess.programme.service.limits import ClientInfo
from lang_assess.programme.service.passwords import PasswordRejected
from lang_assess.programme.service.privacy import PrivacyMixin, RetentionReport
from lang_assess.programme.service.rated import RatedMixin, RubricView, ToRate
from lang_assess.programme.service.rater_figures import RaterFiguresMixin
from lang_assess.programme.service.reports import ReportsMixin
from lang_assess.programme.service.runs import PRETEST, RunsMixin
from lang_assess.programme.service.versions import VersionsMixin
from lang_assess.programme.settings import Settings

__all__ = [
    "NOTE_MAX",
    "PRETEST",
    "AccessDenied",
    "ClientInfo",
    "Enrolled",
    "Intake",
    "ItemView",
    "OptionView",
    "ParticipantContext",
    "PasswordRejected",
    "RateLimited",
    "RetentionReport",
    "RubricView",
    "Service",
    "TeacherContext",
    "ToRate",
    "item_view",
    "normalise_code",
    "open_service",
]


@checked
class Service(EnrolmentMixin, RunsMixin, RatedMixin, RaterFiguresMixin, ReportsMixin, AdminMixin,
              PrivacyMixin, AccessMixin,
              VersionsMixin):
    """Programme operations on one database and one item bank: the front door.

    ``Service(engine, bank, config, clock=..., seed=...)``; each part lives in its own
    module (access, enrolment, runs, rated, rater_figures, reports, admin, privacy,
    versions) and shares the state of
    :class:`~lang_assess.programme.service.base.ServiceBase`.  Every public method that
    takes a context checks it first (:func:`checked`).
    """


def open_service(settings: Settings | None = None) -> Service:
    """The service on the configured database (migrated to the current schema if it is
    not), bank and programme rules; ``settings`` default: :meth:`Settings.from_env`.  Its
    bank folder (pictures, sounds) is ``service.bank.root``."""
    from lang_assess.bank.loader import load_bank_cached
    from lang_assess.programme.rules import load_config
    from lang_assess.programme.store.db import ensure_current, make_engine

    settings = settings or Settings.from_env()
    engine = make_engine(settings.database_url)
    ensure_current(engine)
    bank = load_bank_cached(settings.bank_dir, settings.data_dir / "cache")
    return Service(engine, bank, load_config(settings.config_file))
