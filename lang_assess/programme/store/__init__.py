"""Storage: tables, engine set-up and migrations.

Only :mod:`lang_assess.programme.service` reads and writes through it.
"""
