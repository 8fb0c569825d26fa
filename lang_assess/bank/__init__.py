"""The item bank: item content on disk, and what is done with it.

- :mod:`~lang_assess.bank.schema` — item and ``bank.yaml`` formats (pydantic); the
  QTI interactions' parts and rules in :mod:`~lang_assess.bank.interaction_rules`.
- :mod:`~lang_assess.bank.loader` — ``load_bank``: validate everything, every problem at once.
- :mod:`~lang_assess.bank.scoring` — a participant's answer against the key.
- :mod:`~lang_assess.bank.params_csv` — parameter files ⇄ item parameters.
- :mod:`~lang_assess.bank.versions` — publish / roll back parameter and cut versions.
- :mod:`~lang_assess.bank.expert` — v0 parameters by the documented expert rule.
- :mod:`~lang_assess.bank.literacy` — items that need no reading; the routing stage.
- :mod:`~lang_assess.bank.report` — counts, information, thin places.
- :mod:`~lang_assess.bank.qti` — IMS QTI 3.0 export and import (a package of modules).
- :mod:`~lang_assess.bank.audio` — synthetic speech (espeak-ng).

Uses the engine only.
"""

from lang_assess.bank.params_csv import (
    read_params_csv,
    read_simulees_csv,
    read_thetas_csv,
    write_params_csv,
)

__all__ = ["read_params_csv", "read_simulees_csv", "read_thetas_csv", "write_params_csv"]
