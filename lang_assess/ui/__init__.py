"""What participants and teachers see.

- :mod:`~lang_assess.ui.participant_page` — the participant's test (ipywidgets, Voila).
- :mod:`~lang_assess.ui.teacher_page` — the teachers' dashboard.
- :mod:`~lang_assess.ui.cohort_views` — the dashboard's tables and figures as functions.
- :mod:`~lang_assess.ui.messages` — message catalogues (gettext, one folder of locales).
- :mod:`~lang_assess.ui.serve` — the Voila command line for a page.

Pages reach data only through :class:`lang_assess.programme.service.Service`.
"""
