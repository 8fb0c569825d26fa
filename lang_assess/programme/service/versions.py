"""Which item parameters and CEFR cuts a test uses: the bank's current version, read
when it changes, and the version each running test started with."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from lang_assess.bank.loader import load_bank, read_provenance
from lang_assess.bank.versions import current_cuts, current_version, provenance
from lang_assess.engine.irt.params import ItemParameters
from lang_assess.engine.levels import CutScores
from lang_assess.programme.service.base import ServiceBase
from lang_assess.programme.store.models import ParamVersion


class VersionsMixin(ServiceBase):
    """Parameter and cut-score versions as the service uses them."""

    @property
    def cuts(self) -> CutScores:
        """The bank's current CEFR cut scores: re-read when ``bank.yaml`` changes, so a
        standard-setting round's new cuts apply to the next result without a restart."""
        stamp = (self.bank.root / "bank.yaml").stat().st_mtime_ns
        if self._cuts[0] != stamp:
            self._cuts = (stamp, current_cuts(self.bank.root))
        return self._cuts[1]

    def current_params_version(self) -> str:
        """The bank's current parameter version, read from ``bank.yaml`` each time: a
        version published while the service runs is used by the next test that starts."""
        return current_version(self.bank.root)

    def params_for(self, version: str) -> ItemParameters:
        """The item parameters of ``version`` (validated against the bank's items once,
        then kept)."""
        params = self._params.get(version)
        if params is None:
            params = load_bank(self.bank.root, version=version).params
            self._params[version] = params
        return params

    def _register_params_version(self, db: Session, version: str) -> None:
        """Record a parameter version the first time a test uses it, and mark it
        current."""
        language = self.bank.config.language
        rows = db.scalars(select(ParamVersion).where(ParamVersion.language == language)).all()
        if not any(r.version == version for r in rows):
            meta = provenance(self.bank.root, version)
            if meta:
                source = ", ".join(f"{k}: {meta[k]}" for k in
                                   ("model", "backend", "linking", "data_window",
                                    "approved_by") if k in meta)
            else:
                source = "; ".join(sorted({src for _, src, _ in read_provenance(
                    self.bank.root / "params" / f"{version}.csv").values()}))
            rows = [*rows, ParamVersion(language=language, version=version,
                                        source=source or "unknown")]
            db.add(rows[-1])
        for r in rows:
            if r.is_current != (r.version == version):
                r.is_current = r.version == version
