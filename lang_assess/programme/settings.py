"""Where things are: one settings object, read from the environment once per process.

Four settings, each with one default (relative paths are taken from the working folder
when read, so a library user needs no source checkout):

========================  ===================================  ===========================
variable                  meaning                              default
========================  ===================================  ===========================
``LANG_ASSESS_DB``        SQLAlchemy URL of the database       SQLite file in the data folder
``LANG_ASSESS_DATA``      data folder (SQLite file, demo       ``data``
                          logins, Jupyter state of the pages)
``LANG_ASSESS_BANK``      item bank folder                     ``item_bank/nb``
``LANG_ASSESS_CONFIG``    programme rules (``programme.yaml``) the packaged programme.yaml
========================  ===================================  ===========================

Entry points (the CLI, the pages, the notebooks) call :meth:`Settings.from_env` once and
pass the object down; processes they start get :meth:`Settings.to_env` (absolute paths),
so a Voila kernel, whose working folder is the notebook's, sees the same places.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

PACKAGED_CONFIG = Path(__file__).with_name("programme.yaml")


@dataclass(frozen=True)
class Settings:
    """Database URL, data folder, bank folder and programme config file (absolute)."""

    data_dir: Path
    bank_dir: Path
    config_file: Path = PACKAGED_CONFIG
    db_url: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings named by ``environ`` (default: ``os.environ``), paths made absolute."""
        env = os.environ if environ is None else environ
        return cls(
            data_dir=Path(env.get("LANG_ASSESS_DATA") or "data").resolve(),
            bank_dir=Path(env.get("LANG_ASSESS_BANK") or Path("item_bank", "nb")).resolve(),
            config_file=Path(env.get("LANG_ASSESS_CONFIG") or PACKAGED_CONFIG).resolve(),
            db_url=env.get("LANG_ASSESS_DB") or None,
        )

    @property
    def database_url(self) -> str:
        """``LANG_ASSESS_DB``, or the embedded SQLite file ``<data>/lang_assess.sqlite``."""
        return self.db_url or f"sqlite:///{self.data_dir / 'lang_assess.sqlite'}"

    def to_env(self) -> dict[str, str]:
        """The same settings as environment variables, for a child process."""
        env = {"LANG_ASSESS_DATA": str(self.data_dir), "LANG_ASSESS_BANK": str(self.bank_dir),
               "LANG_ASSESS_CONFIG": str(self.config_file)}
        if self.db_url:
            env["LANG_ASSESS_DB"] = self.db_url
        return env
