"""Storage: tables, engine set-up and migrations. Only :mod:`lang_assess.service` uses it."""
