"""The item and bank file formats, as pydantic models (see docs/bank/item_format.md).

Content (one YAML file per item) and parameters (``params/<version>.csv``) live apart:
content is authored and reviewed, parameters change with every calibration.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from lang_assess.bank.interaction_rules import (
    Feedback,
    Mapping,
    QtiOrigin,
    interaction_problems,
    mapping_max,
    markup_media,
)
from lang_assess.engine.irt.params import RATED_SKILLS
from lang_assess.engine.levels import CEFR_LEVELS

Skill = Literal["reading", "listening", "vocabulary", "grammar", "literacy", "speaking",
                "writing"]
Level = Literal["preA1", "A1", "A2", "B1", "B2", "C1"]
ItemType = Literal[
    "mc_text", "mc_picture", "mc_audio", "gap_choice", "true_false", "ordering", "rated",
    # issue 18: the other QTI interactions (rules in lang_assess/bank/interaction_rules.py)
    "multiple_response", "text_entry", "match", "associate", "gap_match", "hottext",
]
CHOICE_TYPES = ("mc_text", "mc_picture", "mc_audio", "gap_choice", "true_false")
GAP = "___"
ID_PATTERN = re.compile(r"^[a-z]{2,3}-(preA1|A1|A2|B1|B2|C1)-[a-z]{3}-\d{3}$")


def _iso_date(value: Any) -> Any:
    """YAML reads an unquoted 2026-12-01 as a date: keep it as its ISO text."""
    return value.isoformat() if isinstance(value, dt.date) else value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Audio(_Strict):
    """A sound file (path relative to the bank folder) and the words it speaks."""

    file: str
    text: str = Field(min_length=1)


class Image(_Strict):
    """A picture (path relative to the bank folder) with its alternative text."""

    file: str
    alt: str = Field(min_length=1)


class Option(_Strict):
    """One answer option: text, a picture or a sound (or several)."""

    id: str = Field(pattern=r"^[A-Z]$")
    text: str | None = None
    image: Image | None = None
    audio: Audio | None = None


class RubricLevel(_Strict):
    """One score of a teacher-rated task and what earns it."""

    score: int = Field(ge=0)
    descriptor: str = Field(min_length=1)  # bokmål: what the teacher reads by default
    descriptor_en: str | None = None  # the same in English (the teachers' page's other language)


class Review(_Strict):
    """Where the item stands in review: who reviewed it, when, and what they changed."""

    status: Literal["draft", "reviewed", "approved"]
    reviewer: str | None = None
    date: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}-\d{2}$")
    note: str | None = None
    changes: list[str] = Field(default_factory=list)  # what the review changed, one line each

    _iso = field_validator("date", mode="before")(lambda v: _iso_date(v))

    @model_validator(mode="after")
    def _who_and_when(self) -> Review:
        if self.status != "draft" and not (self.reviewer and self.date):
            raise ValueError(f"a {self.status!r} review names its 'reviewer' and 'date'")
        return self


class Item(_Strict):
    """One item of the bank (one YAML file)."""

    id: str
    skill: Skill
    level: Level
    type: ItemType
    topic: str = Field(min_length=1)
    stem: str = ""  # required unless the item has a `body` (checked below)
    stem_audio: Audio | None = None
    passage: str | None = None
    transcript: Audio | None = None
    image: Image | None = None
    options: list[Option] = Field(default_factory=list)
    key: list[str] = Field(default_factory=list)
    rubric: list[RubricLevel] | None = None
    within_level: Literal["low", "mid", "high"] = "mid"
    # a pretest item without parameters is given unscored, for online calibration
    status: Literal["operational", "pretest"] = "operational"
    author: str = Field(min_length=1)
    review: Review
    # items that answer or repeat this one: never given to the same person (symmetric)
    enemies: list[str] = Field(default_factory=list)
    # issue 18 (QTI interactions and imported content; docs/bank/qti.md)
    body: str | None = None  # markup around the interaction (imported items); ___ marks it
    text: str | None = None  # gap_match / hottext: the text whose ___ slots hold gaps/hottexts
    targets: list[Option] = Field(default_factory=list)  # match: the second set
    max_choices: int | None = Field(default=None, ge=0)  # 0 or None: no limit
    min_choices: int = Field(default=0, ge=0)
    shuffle: bool = False  # options shown in a random order, the `fixed` ones kept in place
    fixed: list[str] = Field(default_factory=list)
    mapping: Mapping | None = None  # partial credit / mapped answers (QTI map_response)
    feedback: list[Feedback] = Field(default_factory=list)
    qti: QtiOrigin | None = None  # the identifiers an imported item had

    @field_validator("id")
    @classmethod
    def _id_form(cls, value: str) -> str:
        if not ID_PATTERN.match(value):
            raise ValueError(
                "must look like 'nb-A1-rea-001' (language, level, skill's first three "
                "letters, three digits)"
            )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Item:
        problems = _item_problems(self)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def max_score(self) -> int:
        """Highest score: 1 for right/wrong items, k for a rubric 0..k or a mapping."""
        if self.rubric:
            return max(r.score for r in self.rubric)
        return mapping_max(self) if self.mapping is not None else 1

    def media(self) -> list[tuple[str, str]]:
        """Every (field, relative path) of a picture or sound this item uses."""
        out: list[tuple[str, str]] = []
        if self.stem_audio:
            out.append(("stem_audio", self.stem_audio.file))
        if self.transcript:
            out.append(("transcript", self.transcript.file))
        if self.image:
            out.append(("image", self.image.file))
        for o in (*self.options, *self.targets):
            if o.image:
                out.append((f"options[{o.id}].image", o.image.file))
            if o.audio:
                out.append((f"options[{o.id}].audio", o.audio.file))
        return out + markup_media(self)

    def audio(self) -> list[Audio]:
        """Every sound this item plays, with the words it speaks."""
        sounds = [a for a in (self.stem_audio, self.transcript) if a is not None]
        return sounds + [o.audio for o in self.options if o.audio is not None]


def _item_problems(item: Item) -> list[str]:
    """Rules that tie fields together; each message names the field."""
    p: list[str] = interaction_problems(item)
    prefix = item.id.split("-")
    if len(prefix) == 4 and (prefix[1] != item.level or prefix[2] != item.skill[:3]):
        p.append(f"field 'id' does not match level {item.level!r} and skill {item.skill!r}")
    ids = [o.id for o in item.options]
    if len(set(ids)) != len(ids):
        p.append("field 'options' has duplicate option ids")
    if item.type in CHOICE_TYPES:
        lo, hi = (2, 2) if item.type == "true_false" else (2, 5)
        if not lo <= len(item.options) <= hi:
            p.append(f"field 'options' needs {lo} to {hi} options for type {item.type}")
        if len(item.key) != 1:
            p.append("field 'key' must name exactly one option")
        elif item.key[0] not in ids:
            p.append(f"field 'key' names option {item.key[0]!r}, which is not among {ids}")
        if item.rubric:
            p.append("field 'rubric' is only for rated items")
    if item.type in ("mc_text", "gap_choice", "true_false", "ordering"):
        p.extend(f"field 'options[{o.id}].text' is missing" for o in item.options if not o.text)
    if item.type == "mc_picture":
        p.extend(f"field 'options[{o.id}].image' is missing" for o in item.options if not o.image)
    if item.type == "mc_audio":
        p.extend(f"field 'options[{o.id}].audio' is missing" for o in item.options if not o.audio)
    if item.type == "true_false" and sorted(ids) != ["F", "T"]:
        p.append("field 'options' of a true_false item must be T (riktig) and F (galt)")
    if item.type == "gap_choice" and GAP not in item.stem and item.body is None:
        p.append(f"field 'stem' of a gap_choice item must contain the gap {GAP}")
    if item.type == "ordering":
        if not 3 <= len(item.options) <= 6:
            p.append("field 'options' needs 3 to 6 parts to put in order")
        if sorted(item.key) != sorted(ids):
            p.append("field 'key' must list every option id once, in the right order")
        elif item.key == ids:
            p.append("field 'key' equals the order shown: the parts must be shown mixed up")
    if item.type == "rated":
        scores = sorted(r.score for r in item.rubric or [])
        if not scores or scores != list(range(len(scores))) or len(scores) < 2:
            p.append("field 'rubric' must give scores 0..k (k ≥ 1), each once")
        if item.options or item.key:
            p.append("fields 'options' and 'key' are not used by rated items")
    if item.skill in RATED_SKILLS:
        p.extend(_task_problems(item))
    if item.skill == "listening" and item.transcript is None:
        p.append("field 'transcript' (the audio a listening item plays) is missing")
    if item.skill == "literacy":
        if item.level not in ("preA1", "A1"):
            p.append("field 'level': literacy items are pre-A1 or A1")
        if item.stem_audio is None and not any(o.audio for o in item.options):
            p.append("field 'stem_audio' is missing (literacy items are spoken)")
    if item.level in ("preA1", "A1") and item.stem_audio is None:
        p.append("field 'stem_audio' is missing (every pre-A1 and A1 stem is read aloud)")
    if item.skill in ("reading",) and item.type == "true_false" and not item.passage:
        p.append("field 'passage' is missing (true/false needs a short text)")
    if item.id in item.enemies:
        p.append("field 'enemies' names the item itself")
    if len(set(item.enemies)) != len(item.enemies):
        p.append("field 'enemies' names an item twice")
    p.extend(f"field 'enemies' has {e!r}, which is not an item id" for e in item.enemies
             if not ID_PATTERN.match(e))
    return p


def _task_problems(item: Item) -> list[str]:
    """Speaking and writing tasks (issue 16): rated by a teacher with a rubric written in
    bokmål and English, prompted by a sound or a picture."""
    p = []
    if item.type != "rated":
        p.append(f"field 'type': {item.skill} tasks are 'rated' (a teacher scores them)")
    if item.stem_audio is None and item.image is None:
        p.append("field 'stem_audio' or 'image' is missing (a task has a spoken or a "
                 "picture prompt)")
    missing = [r.score for r in item.rubric or [] if not r.descriptor_en]
    if missing:
        p.append(f"field 'rubric' needs 'descriptor_en' for scores {missing}")
    return p


class RoutingConfig(_Strict):
    """The routing stage of the placement test (lang_assess/engine/cat/routing.py)."""

    items: int = Field(default=4, ge=1)  # routing items (audio and pictures) first
    cut: float | None = None  # reading threshold (logits); None: the pre-A1|A1 cut
    literacy_share: float = Field(default=0.4, gt=0)  # literacy tasks' share for non-readers
    # LASLLIAM-style literacy steps: cut scores on the θ scale and one label per step
    literacy_steps: list[float] = Field(default_factory=lambda: [-3.0, -2.5, -2.0])
    literacy_labels: list[str] = Field(default_factory=lambda: ["1", "2", "3", "4"])

    @model_validator(mode="after")
    def _steps(self) -> RoutingConfig:
        v = self.literacy_steps
        if any(b <= a for a, b in itertools.pairwise(v)):
            raise ValueError("field 'literacy_steps' must be strictly increasing")
        if len(self.literacy_labels) != len(v) + 1:
            raise ValueError(f"field 'literacy_labels' needs {len(v) + 1} labels for "
                             f"{len(v)} literacy steps")
        return self


class DesignConfig(_Strict):
    """A test design as the bank configures it."""

    skills: dict[Skill, float]
    se_target: float = Field(gt=0)
    min_items: int = Field(ge=1)
    max_items: int = Field(ge=1)
    randomesque: int = Field(default=5, ge=1)
    confidence: float | None = Field(default=None, gt=0, lt=1)
    prior_sd: float = Field(default=1.0, gt=0)
    pretest_items: int = Field(default=0, ge=0)  # unscored pretest items per test
    # share of the design's prior N(0, prior_sd²) in a person's own prior (robustness)
    population_weight: float = Field(default=0.0, ge=0, lt=1)
    routing: RoutingConfig | None = None  # a routing stage, for those who may not read
    # issue 16: speaking and writing tasks after the adaptive part, rated by teachers
    rated_tasks: dict[Literal["speaking", "writing"], int] = Field(default_factory=dict)


class SkillLevelsConfig(_Strict):
    """A level per skill (issue 16): each skill's ability is the overall one plus a
    deviation of SD ``spread`` (logits); a skill whose own answers leave its posterior SD
    above ``enough_sd`` says it has not enough evidence."""

    skills: list[Skill] = Field(default_factory=lambda: ["reading", "listening",
                                                         "speaking", "writing"])
    spread: float = Field(default=0.8, gt=0)
    enough_sd: float = Field(default=0.6, gt=0)


class CutConfig(_Strict):
    """CEFR cut scores on the θ scale and where they came from."""

    values: list[float]
    labels: list[Level] = Field(default_factory=lambda: list(CEFR_LEVELS))
    source: str = Field(min_length=1)
    version: str = "c0"
    # how a standard-setting round produced them
    # (lang_assess.psychometrics.standard_setting.cut_provenance)
    provenance: dict[str, Any] | None = None


class RetiredItem(_Strict):
    """One entry of ``retired.yaml``: an item taken out of the bank, and why."""

    id: str = Field(pattern=ID_PATTERN.pattern)
    date: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$")
    reason: str = Field(min_length=1)
    replaced_by: list[str] = Field(default_factory=list)

    _iso = field_validator("date", mode="before")(lambda v: _iso_date(v))


class LintConfig(_Strict):
    """``lint:`` in bank.yaml: the thresholds of ``lang-assess bank lint``
    (:mod:`lang_assess.bank.lint`; docs/bank/item_format.md explains each check)."""

    # per level: key strictly longest (or shortest) ≤ ratio × the rate chance gives
    key_length_max_ratio: float = Field(default=1.3, gt=0)
    # one item: key longer than every distractor by this factor is named (a warning)
    key_length_item_ratio: float = Field(default=1.25, gt=1)
    # per level: share of keys copied word for word from the text ≤ distractors' + this
    key_copied_max_excess: float = Field(default=0.05, ge=0)
    # per level: keys with a hedge word ≤ distractors' rate + this; distractors with an
    # absolute word ≤ keys' rate + this
    hedge_max_excess: float = Field(default=0.10, ge=0)
    absolute_max_excess: float = Field(default=0.10, ge=0)
    # near duplicates (see lint._duplicates): rarity-weighted share of stem words; share
    # of the shorter text's 3-word runs and of both texts' words; share of the options
    duplicate_stem: float = Field(default=0.8, gt=0, le=1)
    duplicate_text: float = Field(default=0.25, gt=0, le=1)
    duplicate_text_words: float = Field(default=0.3, gt=0, le=1)
    duplicate_options: float = Field(default=0.75, gt=0, le=1)
    # a stem shared word for word by this many items is an instruction, not content
    instruction_stem_count: int = Field(default=3, ge=2)
    # words of a passage / a transcript by level: [fewest, most]
    passage_words: dict[Level, tuple[int, int]] = Field(default_factory=dict)
    transcript_words: dict[Level, tuple[int, int]] = Field(default_factory=dict)
    # check name → "error" | "warning", to override a check's default severity
    severity: dict[str, Literal["error", "warning"]] = Field(default_factory=dict)


class BankConfig(_Strict):
    """``bank.yaml``: one per language."""

    language: str = Field(pattern=r"^[a-z]{2,3}$")
    name: str
    params_version: str = Field(pattern=r"^[A-Za-z0-9._-]+$")
    cuts: CutConfig
    designs: dict[Literal["placement", "progress"], DesignConfig]
    content_targets: dict[Level, dict[Skill, int]] = Field(default_factory=dict)
    skill_levels: SkillLevelsConfig = Field(default_factory=SkillLevelsConfig)
    notes: str | None = None
    lint: LintConfig = Field(default_factory=LintConfig)
    cuts_history: list[CutConfig] = Field(default_factory=list)  # earlier cut versions
