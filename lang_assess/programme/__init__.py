"""The programme: its rules, its people's data and the one door to them.

- :mod:`~lang_assess.programme.settings` — database URL, data, bank and config folders
  (:class:`~lang_assess.programme.settings.Settings`, read once per process).
- :mod:`~lang_assess.programme.rules` — tracks, weekly priors, flags (``programme.yaml``).
- :mod:`~lang_assess.programme.growth` — each learner's trend week to week; a track's
  growth prior from its learners' tests.
- :mod:`~lang_assess.programme.simulation` — intakes that grow, tested week by week as
  the service tests them.
- :mod:`~lang_assess.programme.store` — tables, engine set-up, migrations.
- :mod:`~lang_assess.programme.service` — :class:`Service`, the only door to the
  database (``open_service()`` builds it from the settings).
- :mod:`~lang_assess.programme.demo` — the simulated programme behind ``demo-data``.

Uses the engine and the bank; never psychometrics.
"""
