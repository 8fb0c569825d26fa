"""A test design: which parts run a test, and the two designs the programme uses.

A :class:`TestDesign` bundles an initializer, an estimator, an item selector and a stop
rule with the prior and the quadrature grid.  It converts to and from a plain JSON-able
dict, which is how a running test remembers its design across a crash.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lang_assess.engine.cat.estimators import (
    EAPEstimator,
    Estimator,
    MAPEstimator,
    MLEEstimator,
    WLEEstimator,
)
from lang_assess.engine.cat.routing import Routing
from lang_assess.engine.cat.select import (
    ContentBalancing,
    InformationAtCut,
    ItemSelector,
    MaxInformation,
    PosteriorWeightedInformation,
    Randomesque,
    SwitchAfter,
    SympsonHetter,
)
from lang_assess.engine.cat.start import FixedStart, Initializer, PriorMeanStart
from lang_assess.engine.cat.state import PreparedBank, enemy_matrix
from lang_assess.engine.cat.stop import (
    ClassificationConfidence,
    CutDecided,
    StandardErrorTarget,
    StopRule,
)
from lang_assess.engine.irt.params import ItemParameters
from lang_assess.engine.levels import CutScores
from lang_assess.errors import BankError

# Skill mix of the placement and progress tests (reading, listening, vocabulary, grammar);
# literacy items belong to the separate literacy routing, not to these designs.
DEFAULT_SKILL_TARGETS: dict[str, float] = {
    "reading": 0.3,
    "listening": 0.3,
    "vocabulary": 0.2,
    "grammar": 0.2,
}

_COMPONENTS: dict[str, type] = {
    cls.__name__: cls
    for cls in (
        PriorMeanStart, FixedStart, EAPEstimator, MLEEstimator, WLEEstimator, MAPEstimator,
        MaxInformation, PosteriorWeightedInformation, SwitchAfter, ContentBalancing,
        Randomesque, SympsonHetter, ItemSelector, StandardErrorTarget,
        ClassificationConfidence, StopRule, CutScores, Routing, InformationAtCut, CutDecided,
    )
}


@dataclass(frozen=True)
class TestDesign:
    """Everything that decides how one adaptive test runs (no bank, no person).

    ``prior_mean``/``prior_sd`` (logits) are defaults a caller may override per person
    (the weekly test starts from last week's posterior).  ``population_weight`` w makes a
    person's own prior robust: the test then starts from (1 − w)·N(person's mean, SD²) +
    w·N(``prior_mean``, ``prior_sd``²), so someone far from what their intake predicts is
    not pulled back to it (0: the person's prior alone).  ``grid`` is (start, stop,
    points) of the quadrature grid.  ``pretest_items`` is the number of unscored pretest
    items each test carries for online calibration (:mod:`lang_assess.engine.cat.pretest`);
    they come on top of the stop rule's ``min_items``/``max_items``, which count
    operational items only, and the session supplies the pool they are drawn from.
    """

    __test__ = False  # not a pytest test class, despite the name

    name: str = "placement"
    prior_mean: float = 0.0
    prior_sd: float = 1.0
    grid: tuple[float, float, int] = (-6.0, 6.0, 121)
    start: Initializer = field(default_factory=PriorMeanStart)
    estimator: Estimator = field(default_factory=EAPEstimator)
    selector: ItemSelector = field(default_factory=ItemSelector)
    stop: StopRule = field(default_factory=StopRule)
    pretest_items: int = 0
    population_weight: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.population_weight < 1.0:
            raise ValueError(f"population_weight must be in [0, 1), got {self.population_weight}")
        k = self.pretest_items
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 0:
            raise ValueError(f"pretest_items must be a whole number ≥ 0, got {k!r}")
        object.__setattr__(self, "pretest_items", int(k))

    @property
    def grid_points(self) -> np.ndarray:
        """(Q,) quadrature points in logits."""
        lo, hi, n = self.grid
        return np.linspace(float(lo), float(hi), int(n))

    def prepare(
        self, params: ItemParameters, enemies: Iterable[tuple[str, str]] = ()
    ) -> PreparedBank:
        """Bind the design to a bank: skill codes and exposure parameters per item, and
        the bank's ``enemies`` (pairs of item ids never given to the same person)."""
        content = self.selector.content
        skills = content.skills if content is not None else ()
        k = np.ones(params.n_items)
        sh = self.selector.sympson_hetter
        if sh is not None and sh.k:
            ids = list(sh.k)
            known = set(params.ids.tolist())
            unknown = [i for i in ids if i not in known]
            if unknown:
                raise BankError(
                    [f"item '{i}': has a Sympson-Hetter parameter but is not in the bank"
                     for i in unknown]
                )
            k[params.index_of(ids)] = np.clip([float(sh.k[i]) for i in ids], 0.0, 1.0)
        return PreparedBank(
            params=params,
            grid=self.grid_points,
            skills=skills,
            skill_code=params.skill_codes(skills) if skills else np.full(params.n_items, -1),
            exposure_k=k,
            enemies=enemy_matrix(params, enemies),
            route_pools=None if self.selector.routing is None
            else self.selector.routing.pools(params.ids),
        )

    def to_config(self) -> dict[str, Any]:
        """A JSON-able dict that :meth:`from_config` turns back into an equal design."""
        return _encode(self)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> TestDesign:
        """Rebuild a design from :meth:`to_config` output."""
        design = _decode(dict(config))
        if not isinstance(design, TestDesign):
            raise ValueError("not a test design configuration")
        return design


def _encode(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out: dict[str, Any] = {"type": type(obj).__name__}
        for f in dataclasses.fields(obj):
            if f.init:
                out[f.name] = _encode(getattr(obj, f.name))
        return out
    if isinstance(obj, Mapping):
        return {str(k): _encode(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_encode(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def _decode(obj: Any) -> Any:
    if isinstance(obj, dict) and "type" in obj:
        kind = obj["type"]
        cls = TestDesign if kind == "TestDesign" else _COMPONENTS.get(kind)
        if cls is None:
            raise ValueError(f"unknown design component {kind!r}")
        kwargs = {k: _decode(v) for k, v in obj.items() if k != "type"}
        if cls is TestDesign and "grid" in kwargs:
            kwargs["grid"] = tuple(kwargs["grid"])
        return cls(**kwargs)
    if isinstance(obj, dict):
        return {k: _decode(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_decode(v) for v in obj]
    return obj


def placement_design(
    *,
    skill_targets: Mapping[str, float] | None = None,
    sympson_hetter: Mapping[str, float] | None = None,
    randomesque: int = 5,
    se_target: float = 0.30,
    min_items: int = 5,
    max_items: int = 30,
    cuts: CutScores | None = None,
    confidence: float | None = None,
    pretest_items: int = 0,
    prior_sd: float = 1.0,
    population_weight: float = 0.0,
    routing: Routing | None = None,
) -> TestDesign:
    """The placement test taken on arrival.

    EAP under N(0, ``prior_sd``²); posterior-weighted information for the first 3 items,
    then maximum information; randomesque 5; stop at SE ≤ 0.30 (after at least 5 items)
    or 30 items.  ``skill_targets`` turns on content balancing; ``sympson_hetter`` maps
    item id → k; ``cuts`` with ``confidence`` adds a stop once the CEFR level is that
    certain (the decision, not the SE, is what placement needs); ``pretest_items``
    unscored pretest items are added to each test.  ``population_weight`` mixes the
    design's prior into a person's own (see :class:`TestDesign`); ``routing`` puts a
    routing stage first (:mod:`lang_assess.engine.cat.routing`).
    """
    rules: list[Any] = [StandardErrorTarget(se_target)]
    if cuts is not None and confidence is not None:
        rules.append(ClassificationConfidence(cuts, confidence))
    return TestDesign(
        name="placement",
        selector=ItemSelector(
            criterion=SwitchAfter(PosteriorWeightedInformation(), MaxInformation(), 3),
            content=ContentBalancing(dict(skill_targets)) if skill_targets else None,
            randomesque=Randomesque(randomesque),
            sympson_hetter=SympsonHetter(dict(sympson_hetter)) if sympson_hetter else None,
            routing=routing,
        ),
        stop=StopRule(min_items=min_items, max_items=max_items, rules=tuple(rules)),
        pretest_items=pretest_items,
        prior_sd=prior_sd,
        population_weight=population_weight,
    )


def progress_design(
    *,
    skill_targets: Mapping[str, float] | None = None,
    sympson_hetter: Mapping[str, float] | None = None,
    randomesque: int = 5,
    cuts: CutScores | None = None,
    confidence: float = 0.90,
    se_target: float = 0.40,
    min_items: int = 5,
    max_items: int = 15,
    pretest_items: int = 0,
    decision_cut: float | None = None,
    decision_probability: float = 0.93,
) -> TestDesign:
    """The short weekly progress test.

    Starts from a per-person prior (the learner's trend carried to this week;
    the caller passes it), so it needs fewer items.  With ``decision_cut`` (logits: the
    cut above the learner's course level) the test serves the week's decision: items
    informative at that cut (:class:`InformationAtCut`, after one posterior-weighted
    item), stopping once P(θ ≥ cut) ≥ ``decision_probability`` or ≤ 1 − it
    (:class:`CutDecided`), after ``min_items`` to ``max_items`` items.  Without it (a
    learner at the top level, or no course level yet): stop at SE ≤ ``se_target``, or
    once the CEFR level has posterior probability ≥ ``confidence`` when ``cuts`` are
    given.  ``pretest_items`` unscored pretest items come on top.
    """
    rules: list[Any]
    if decision_cut is not None:
        rules = [CutDecided(float(decision_cut), decision_probability)]
        then: Any = InformationAtCut(float(decision_cut))
    else:
        rules = [StandardErrorTarget(se_target)]
        if cuts is not None:
            rules.append(ClassificationConfidence(cuts, confidence))
        then = MaxInformation()
    return TestDesign(
        name="progress",
        selector=ItemSelector(
            criterion=SwitchAfter(PosteriorWeightedInformation(), then, 1),
            content=ContentBalancing(dict(skill_targets)) if skill_targets else None,
            randomesque=Randomesque(randomesque),
            sympson_hetter=SympsonHetter(dict(sympson_hetter)) if sympson_hetter else None,
        ),
        stop=StopRule(min_items=min_items, max_items=max_items, rules=tuple(rules)),
        pretest_items=pretest_items,
    )
