"""The bank linter (``lang-assess bank lint``): item-construction flaws a machine can see.

``validate`` checks that a bank is well formed; the linter checks that its items measure
what they should.  Per item: ordering parts given away by capitals or end punctuation,
stem audio that speaks the key or fills the gap, alt texts that name the answer, house
style (``style.yaml``), passage and transcript lengths by level, keys clearly longer than
every distractor, unresolved near duplicates across the bank.  Per level: how often the
key is the strictly longest or shortest option against chance, how often keys against
distractors are copied word for word from the text, and how often they hedge («men»,
«hvis») or speak in absolutes («alltid», «aldri»).

Every finding names the file, the item and the field; thresholds live in bank.yaml
(``lint:``, :class:`~lang_assess.bank.schema.LintConfig`); each check is an error or a
warning (``lint.severity`` overrides).  docs/bank/item_format.md explains the checks.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lang_assess.bank.loader import Bank, load_bank
from lang_assess.bank.schema import GAP, Item, LintConfig
from lang_assess.engine.levels import CEFR_LEVELS
from lang_assess.errors import BankError

#: Every check and its default severity.
CHECKS: dict[str, str] = {
    "key-longest": "error",  # per level: key strictly longest, against chance
    "key-shortest": "error",  # per level: key strictly shortest, against chance
    "key-length": "warning",  # one item: key longer than every distractor by a margin
    "key-copied": "error",  # per level: keys copied from the text, against distractors
    "key-copied-item": "warning",  # one item: only the key is copied from the text
    "hedge": "error",  # per level: keys hedge more than distractors
    "absolute": "error",  # per level: distractors speak in absolutes more than keys
    "hedge-item": "warning",  # one item: only the key hedges / only distractors are absolute
    "ordering-typography": "error",  # capitals or end punctuation give a part's place away
    "ordering-comma": "warning",  # a part ending in a comma cannot be last
    "audio-gap": "error",  # stem audio says an option where the gap is
    "audio-key": "error",  # stem audio speaks the key the stem does not show
    "alt-text": "error",  # a picture's alt text names the answer
    "picture-text": "error",  # a picture file carries a <title> or <text> (it may name it)
    "duplicate": "error",  # near-duplicate items that are not enemies
    "style": "error",  # house style (style.yaml)
    "words": "error",  # passage / transcript length outside the level's range
}
TEXT_TYPES = ("mc_text", "gap_choice")
SENTENCE_WORDS = 3  # options of at least this many words count for hedges and absolutes
_WORD = re.compile(r"\w+")
_END = (".", "!", "?")


@dataclass(frozen=True)
class Finding:
    """One problem: which check, how bad, and where (file, item, field)."""

    check: str
    severity: str
    file: str
    item: str | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"item '{self.item}': " if self.item else ""
        return (f"{self.severity}: {self.file}: {where}field '{self.field}' {self.message} "
                f"[{self.check}]")


@dataclass(frozen=True)
class Style:
    """``style.yaml``: spelling rules (regex ``find`` → ``use``; ``in``: all, written or
    spoken fields), hedge and absolute words, and stopwords (ignored when an alt text is
    compared with the stem)."""

    rules: tuple[dict[str, str], ...] = ()
    hedges: tuple[str, ...] = ()
    absolutes: tuple[str, ...] = ()
    stopwords: frozenset[str] = frozenset()


@dataclass
class LintReport:
    """All findings, and the per-level rates the level checks compared."""

    bank: str
    findings: list[Finding] = field(default_factory=list)
    levels: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def errors(self) -> list[Finding]:
        """The findings that fail the lint."""
        return [f for f in self.findings if f.severity == "error"]

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict: counts, the findings and the per-level rates."""
        return {"bank": self.bank, "errors": len(self.errors),
                "warnings": len(self.findings) - len(self.errors),
                "findings": [asdict(f) for f in self.findings], "levels": self.levels}


def words(text: str | None) -> list[str]:
    """Lower-case word tokens (letters and digits) of ``text``."""
    return _WORD.findall((text or "").lower())


def read_style(root: Path) -> Style:
    """The bank's ``style.yaml`` (absent: no rules, no word lists)."""
    path = root / "style.yaml"
    if not path.is_file():
        return Style()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        rules = tuple(dict(r) for r in raw.get("rules", []))
        for k, r in enumerate(rules):
            if not {"find", "use"} <= set(r):
                raise BankError(f"style.yaml: rule {k + 1}: needs 'find' and 'use'")
            if r.get("in", "all") not in ("all", "written", "spoken"):
                raise BankError(f"style.yaml: rule {k + 1}: 'in' is all, written or spoken")
            re.compile(r["find"])
    except (yaml.YAMLError, re.error, AttributeError, TypeError) as exc:
        raise BankError(f"{path}: {exc}") from None
    return Style(rules=rules, hedges=tuple(raw.get("hedges", [])),
                 absolutes=tuple(raw.get("absolutes", [])),
                 stopwords=frozenset(w.lower() for w in raw.get("stopwords", [])))


def lint_bank(path: str | Path) -> LintReport:
    """Lint a bank folder (validated first, parameters and media aside: a malformed bank
    raises :class:`BankError`)."""
    bank = load_bank(path, skip=("params", "media"))
    return lint(bank, read_style(Path(path)))


def lint(bank: Bank, style: Style) -> LintReport:
    """Run every check on a loaded bank."""
    cfg = bank.config.lint
    name = bank.root.name
    files = {i: f"{name}/{it.skill}/{i}.yaml" for i, it in bank.items.items()}
    report = LintReport(bank=str(bank.root))
    raw: list[tuple[str, str, str | None, str, str]] = []  # check, file, item, field, msg
    items = list(bank.items.values())
    pictures: dict[str, bool] = {}  # file → carries words (read once)
    for it in items:
        f = files[it.id]
        raw += [(c, f, it.id, fld, m) for c, fld, m in _item_checks(it, cfg, style)]
        raw += [(c, f, it.id, fld, m) for c, fld, m in _picture_words(it, bank.root, pictures)]
    raw += [(c, f"{name}/bank.yaml", None, fld, m)
            for c, fld, m in _level_checks(items, cfg, style, report.levels)]
    raw += [(c, files[i], i, fld, m) for c, i, fld, m in _duplicates(items, cfg)]
    for check, f, item, fld, msg in raw:
        severity = cfg.severity.get(check, CHECKS[check])
        report.findings.append(Finding(check, severity, f, item, fld, msg))
    return report


# ---- one item -------------------------------------------------------------------------
def _item_checks(it: Item, cfg: LintConfig, style: Style) -> list[tuple[str, str, str]]:
    """(check, field, message) for every problem of one item."""
    out: list[tuple[str, str, str]] = []
    out += _ordering(it)
    out += _stem_audio(it)
    out += _alt_texts(it, style)
    out += _style(it, style)
    out += _word_counts(it, cfg)
    if it.type in TEXT_TYPES and len(it.options) >= 2:
        key = _key(it)
        others = [o for o in it.options if o.id != key.id]
        longest = max(len(o.text or "") for o in others)
        if len(key.text or "") > cfg.key_length_item_ratio * longest:
            out.append(("key-length", f"options[{key.id}].text",
                        f"is {len(key.text or '')} characters, the longest distractor "
                        f"{longest}: the key stands out by its length"))
        text = _text_of(it)
        if text and _copied(key.text, text) and not any(_copied(o.text, text) for o in others):
            out.append(("key-copied-item", f"options[{key.id}].text",
                        "is copied word for word from the text and no distractor is"))
    if it.type == "mc_text" and len(it.options) >= 2:
        key = _key(it)
        others = [o for o in it.options if o.id != key.id]
        if _has(key.text, style.hedges) and not any(_has(o.text, style.hedges) for o in others):
            out.append(("hedge-item", f"options[{key.id}].text",
                        "hedges and no distractor does"))
        if any(_has(o.text, style.absolutes) for o in others) and not _has(
                key.text, style.absolutes):
            out.append(("hedge-item", "options", "only distractors speak in absolutes"))
    return out


def _key(it: Item) -> Any:
    return next(o for o in it.options if o.id == it.key[0])


def _text_of(it: Item) -> list[str]:
    """Words of the passage or transcript an item is about."""
    return words(it.passage) + words(it.transcript.text if it.transcript else None)


def _contains(seq: Sequence[str], part: Sequence[str]) -> bool:
    n = len(part)
    return n > 0 and any(list(seq[k:k + n]) == list(part) for k in range(len(seq) - n + 1))


def _copied(option: str | None, text: list[str]) -> bool:
    """True if the option's words occur in the text in one run, word for word."""
    return _contains(text, words(option))


def _has(option: str | None, phrases: Iterable[str]) -> bool:
    toks = words(option)
    return len(toks) >= SENTENCE_WORDS and any(_contains(toks, words(p)) for p in phrases)


def _ordering(it: Item) -> list[tuple[str, str, str]]:
    if it.type != "ordering":
        return []
    texts = {o.id: (o.text or "").strip() for o in it.options}
    first, last = it.key[0], it.key[-1]
    upper = [i for i, t in texts.items() if t[:1].isupper()]
    final = [i for i, t in texts.items() if t.endswith(_END)]
    out = []
    if upper == [first] and len(texts) > 1:
        out.append(("ordering-typography", f"options[{first}].text",
                    "is the only part that starts with a capital letter: it shows which "
                    "part comes first"))
    if final == [last] and len(texts) > 1:
        out.append(("ordering-typography", f"options[{last}].text",
                    "is the only part that ends with . ! or ?: it shows which part comes "
                    "last"))
    out += [("ordering-comma", f"options[{i}].text",
             "ends with a comma, so it cannot be the last part")
            for i, t in texts.items() if t.endswith(",")]
    return out


def _stem_audio(it: Item) -> list[tuple[str, str, str]]:
    if it.stem_audio is None or it.type not in (*TEXT_TYPES, "true_false"):
        return []
    spoken = words(it.stem_audio.text)
    out = []
    if it.type == "gap_choice" and GAP in it.stem:
        before, after = (words(p) for p in it.stem.split(GAP, 1))
        lo = 0
        while lo < min(len(before), len(spoken)) and spoken[lo] == before[lo]:
            lo += 1
        hi = 0
        while hi < min(len(after), len(spoken) - lo) and spoken[-1 - hi] == after[-1 - hi]:
            hi += 1
        at_gap = spoken[lo:len(spoken) - hi]
        for o in it.options:
            if _contains(at_gap, words(o.text)):
                role = "the key" if o.id == it.key[0] else "a distractor"
                out.append(("audio-gap", "stem_audio.text",
                            f"says «{o.text}» ({role}, option {o.id}) where the gap is"))
    if it.type in TEXT_TYPES and it.skill != "literacy":  # literacy: hearing it is the task
        key = _key(it)
        toks = words(key.text)
        if _contains(spoken, toks) and not _contains(words(it.stem.replace(GAP, " ")), toks):
            out.append(("audio-key", "stem_audio.text",
                        f"speaks the key «{key.text}», which the stem does not show"))
    return out


def _alt_words(text: str, style: Style) -> set[str]:
    return {w for w in words(text) if len(w) >= 3 and w not in style.stopwords}


def _match(a: set[str], b: set[str]) -> set[str]:
    """Words of ``a`` found in ``b`` (equal, or one the other's stem of 4+ letters)."""
    return {x for x in a if any(x == y or (min(len(x), len(y)) >= 4 and
                                           (x.startswith(y) or y.startswith(x))) for y in b)}


def _alt_texts(it: Item, style: Style) -> list[tuple[str, str, str]]:
    out = []
    prompt = " ".join(t for t in (it.stem, it.stem_audio.text if it.stem_audio else "",
                                  it.transcript.text if it.transcript else "") if t)
    asked = _alt_words(prompt, style)
    pictures = [o for o in it.options if o.image is not None]
    if it.type == "mc_picture" and len(pictures) >= 2 and asked:
        hits = {o.id: _match(asked, _alt_words(o.image.alt, style)) for o in pictures}
        key = it.key[0]
        most = max(len(h) for i, h in hits.items() if i != key)
        if len(hits.get(key, ())) > most:
            out.append(("alt-text", f"options[{key}].image.alt",
                        f"repeats {sorted(hits[key])} from the stem or audio, which no "
                        "distractor's alt text does: it names the answer"))
    if it.image is not None and it.type in TEXT_TYPES:
        alt = _alt_words(it.image.alt, style)
        named = [o for o in it.options if words(o.text) and
                 _match(set(words(o.text)), alt) == set(words(o.text))]
        if [o.id for o in named] == [it.key[0]]:
            out.append(("alt-text", "image.alt",
                        f"names the key «{named[0].text}»: the picture's alt text gives the "
                        "answer"))
    return out


def _picture_words(it: Item, root: Path, seen: dict[str, bool]) -> list[tuple[str, str, str]]:
    """Pictures whose SVG carries a <title> or <text>: the words travel to the browser
    with the picture and may name the answer."""
    out = []
    shown = [("image", it.image)] + [(f"options[{o.id}].image", o.image) for o in it.options]
    for fld, img in shown:
        if img is None or not img.file.endswith(".svg"):
            continue
        if img.file not in seen:
            path = root / img.file
            text = path.read_text(encoding="utf-8") if path.is_file() else ""
            seen[img.file] = bool(re.search(r"<(title|text|desc)\b", text))
        if seen[img.file]:
            out.append(("picture-text", f"{fld}.file", f"'{img.file}' carries words "
                        "(<title>, <desc> or <text>) that reach the browser with it"))
    return out


def _fields(it: Item) -> list[tuple[str, str]]:
    """(field, text) of everything a participant reads or hears, but the intended
    wrong forms of grammar and vocabulary gap distractors."""
    out = [("stem", it.stem)]
    if it.body:  # imported markup: its words, not its tags
        out.append(("body", re.sub(r"<[^>]*>", " ", it.body)))
    for name in ("passage", "text"):  # text: the gap_match / hottext sentence
        if getattr(it, name):
            out.append((name, getattr(it, name)))
    for name in ("stem_audio", "transcript"):
        a = getattr(it, name)
        if a is not None:
            out.append((f"{name}.text", a.text))
    if it.image is not None:
        out.append(("image.alt", it.image.alt))
    for o in it.options:
        if o.text and not (it.type == "gap_choice" and o.id != it.key[0]):
            out.append((f"options[{o.id}].text", o.text))
        if o.image is not None:
            out.append((f"options[{o.id}].image.alt", o.image.alt))
        if o.audio is not None:
            out.append((f"options[{o.id}].audio.text", o.audio.text))
    out += [(f"targets[{t.id}].text", t.text) for t in it.targets if t.text]
    return out


def _style(it: Item, style: Style) -> list[tuple[str, str, str]]:
    out = []
    for fld, text in _fields(it):
        spoken = fld.endswith("audio.text") or fld == "transcript.text"
        for rule in style.rules:
            if rule.get("in", "all") == ("written" if spoken else "spoken"):
                continue
            for m in re.finditer(rule["find"], text):
                out.append(("style", fld, f"has «{m.group(0)}»: write «{m.expand(rule['use'])}»"
                            + (f" ({rule['why']})" if rule.get("why") else "")))
    return out


def _word_counts(it: Item, cfg: LintConfig) -> list[tuple[str, str, str]]:
    out = []
    for fld, text, ranges in (("passage", it.passage, cfg.passage_words),
                              ("transcript.text", it.transcript.text if it.transcript else None,
                               cfg.transcript_words)):
        if text and it.level in ranges:
            lo, hi = ranges[it.level]
            n = len(words(text))
            if not lo <= n <= hi:
                out.append(("words", fld, f"has {n} words; {it.level} asks for {lo}–{hi}"))
    return out


# ---- one level ------------------------------------------------------------------------
def _level_checks(items: list[Item], cfg: LintConfig, style: Style,
                  levels: dict[str, dict[str, float]]) -> list[tuple[str, str, str]]:
    """(check, field, message) per level; ``levels`` receives the rates compared."""
    out = []
    for lv in CEFR_LEVELS:
        text = [it for it in items if it.level == lv and it.type in TEXT_TYPES
                and len(it.options) >= 2]
        if not text:
            continue
        stats: dict[str, float] = {"text_items": len(text)}
        chance = sum(1.0 / len(it.options) for it in text) / len(text)
        longest = shortest = 0
        for it in text:
            k = it.key[0]
            n = {o.id: len(o.text or "") for o in it.options}
            longest += all(n[k] > v for i, v in n.items() if i != k)
            shortest += all(n[k] < v for i, v in n.items() if i != k)
        stats.update(chance=chance, key_longest=longest / len(text),
                     key_shortest=shortest / len(text))
        for name, rate in (("longest", stats["key_longest"]),
                           ("shortest", stats["key_shortest"])):
            if rate > cfg.key_length_max_ratio * chance:
                out.append((f"key-{name}", f"{lv}.options",
                            f"the key is the strictly {name} option in {rate:.0%} of {lv} "
                            f"text items; chance is {chance:.0%} and the limit "
                            f"{cfg.key_length_max_ratio:g} × chance"))
        with_text = [it for it in text if _text_of(it)]
        if with_text:
            keys = sum(_copied(_key(it).text, _text_of(it)) for it in with_text)
            dis = [_copied(o.text, _text_of(it)) for it in with_text for o in it.options
                   if o.id != it.key[0]]
            stats.update(copied_key=keys / len(with_text),
                         copied_distractor=sum(dis) / max(1, len(dis)))
            if stats["copied_key"] > stats["copied_distractor"] + cfg.key_copied_max_excess:
                out.append(("key-copied", f"{lv}.options",
                            f"{stats['copied_key']:.0%} of {lv} keys are copied word for word "
                            f"from the passage or transcript, {stats['copied_distractor']:.0%}"
                            f" of distractors; the limit is distractors' + "
                            f"{cfg.key_copied_max_excess:.0%}"))
        sentences = [it for it in text if it.type == "mc_text"]
        for check, phrases, limit in (("hedge", style.hedges, cfg.hedge_max_excess),
                                      ("absolute", style.absolutes, cfg.absolute_max_excess)):
            keys_n = [_has(_key(it).text, phrases) for it in sentences
                      if len(words(_key(it).text)) >= SENTENCE_WORDS]
            dis_n = [_has(o.text, phrases) for it in sentences for o in it.options
                     if o.id != it.key[0] and len(words(o.text)) >= SENTENCE_WORDS]
            if not keys_n or not dis_n or not phrases:
                continue
            kr, dr = sum(keys_n) / len(keys_n), sum(dis_n) / len(dis_n)
            stats[f"{check}_key"], stats[f"{check}_distractor"] = kr, dr
            more, less = (kr, dr) if check == "hedge" else (dr, kr)
            if more - less > limit:
                who = "keys" if check == "hedge" else "distractors"
                out.append((check, f"{lv}.options",
                            f"{lv} {who} use {check} words in {more:.0%} of sentence options, "
                            f"the others in {less:.0%}; the limit is {limit:.0%} apart"))
        levels[lv] = {k: round(v, 4) for k, v in stats.items()}
    return out


# ---- across the bank ------------------------------------------------------------------
def _shingles(toks: list[str], n: int = 3) -> set[tuple[str, ...]]:
    return {tuple(toks[k:k + n]) for k in range(len(toks) - n + 1)}


def _overlap(a: set[Any], b: set[Any]) -> float:
    return len(a & b) / min(len(a), len(b)) if a and b else 0.0


def _option_set(it: Item) -> tuple[frozenset[str], str, bool]:
    """(normalised options, the key's, whether the options carry content: sentences,
    pictures, sounds or ordering parts rather than single forms)."""
    def norm(o: Any) -> str:
        if o.text:
            return " ".join(words(o.text))
        return o.image.file if o.image else (o.audio.text if o.audio else "")
    opts = frozenset(norm(o) for o in it.options)
    if it.type == "ordering":
        return opts, "", True
    multi = sum(len(words(o.text)) for o in it.options if o.text) >= 2 * len(it.options)
    # the key names options in choice items; typed answers or pairs in the QTI types
    shown = {o.id: norm(o) for o in it.options}
    key = " | ".join(shown.get(k, k) for k in it.key)
    return opts, key, multi or it.type in ("mc_picture", "mc_audio")


def _duplicates(items: list[Item], cfg: LintConfig) -> list[tuple[str, str, str, str]]:
    """Pairs of items that nearly coincide and are not declared enemies; each pair is
    named on both items.

    Alike are two items whose passages or transcripts share many 3-word runs and words;
    or whose stems (for items without a text, instructions and ordering items aside)
    share most of their rarity-weighted words, or contain one another and have the same
    options and key; or whose content options (sentences, pictures, sounds, parts) are
    nearly the same set with the same key.
    """
    stems = Counter(" ".join(words(it.stem)) for it in items)
    feats = []
    for it in items:
        own = stems[" ".join(words(it.stem))] < cfg.instruction_stem_count
        stem = set(words(it.stem.replace(GAP, " "))) if (
            own and it.type != "ordering" and not _text_of(it)) else set()
        text = _text_of(it)
        feats.append((stem, _shingles(text), set(text), *_option_set(it)))
    df = Counter(w for f in feats for w in f[0])
    idf = {w: math.log(len(items) / c) for w, c in df.items()}

    def weight(ws: set[str]) -> float:
        return sum(idf[w] for w in ws)

    # candidate pairs share a stem word, a text run or an option that few items have
    index: dict[Any, list[int]] = defaultdict(list)
    for k, (stem, runs, _, opts, _, _) in enumerate(feats):
        for tok in {("s", w) for w in stem} | {("t", r) for r in runs} | {("o", o) for o in opts}:
            index[tok].append(k)
    rare = max(10, len(items) // 20)
    pairs = {(a, b) for ks in index.values() if len(ks) <= rare
             for n, a in enumerate(ks) for b in ks[n + 1:]}
    out = []
    for a, b in sorted(pairs):
        ia, ib = items[a], items[b]
        if ib.id in ia.enemies:
            continue
        sa, ra, wa, oa, ka, ca = feats[a]
        sb, rb, wb, ob, kb, cb = feats[b]
        same_options = bool(oa) and ka == kb and len(oa & ob) / len(oa | ob) >= \
            cfg.duplicate_options
        why = []
        if sa and sb:
            shared = weight(sa & sb)
            if shared >= cfg.duplicate_stem * weight(sa | sb):
                why.append("stems alike")
            elif same_options and shared >= cfg.duplicate_stem * min(weight(sa), weight(sb)):
                why.append("one stem inside the other, same options and key")
        if ra and rb and _overlap(ra, rb) >= cfg.duplicate_text and \
                len(wa & wb) / len(wa | wb) >= cfg.duplicate_text_words:
            why.append("passages or transcripts alike")
        if ca and cb and same_options:
            why.append("same options and key")
        if why:
            reason = "; ".join(why)
            for x, y in ((ia, ib), (ib, ia)):
                out.append(("duplicate", x.id, "enemies",
                            f"nearly duplicates '{y.id}' ({reason}): rewrite one, or make "
                            "them enemies"))
    return out


def format_report(report: LintReport) -> str:
    """Plain text: one line per finding, the per-level rates, and the totals."""
    lines = [str(f) for f in report.findings]
    if report.levels:
        lines += ["", "Per level (text items): key strictly longest / shortest vs chance, "
                  "copied from the text (keys / distractors), hedges and absolutes "
                  "(keys / distractors):"]
        for lv, s in report.levels.items():
            lines.append(
                f"  {lv:<6} n={int(s['text_items']):>3}  longest {s['key_longest']:.0%}  "
                f"shortest {s['key_shortest']:.0%}  chance {s['chance']:.0%}"
                + (f"  copied {s['copied_key']:.0%}/{s['copied_distractor']:.0%}"
                   if "copied_key" in s else "")
                + (f"  hedge {s['hedge_key']:.0%}/{s['hedge_distractor']:.0%}"
                   if "hedge_key" in s else "")
                + (f"  absolute {s['absolute_key']:.0%}/{s['absolute_distractor']:.0%}"
                   if "absolute_key" in s else ""))
    n_err = len(report.errors)
    lines.append(f"{report.bank}: {n_err} error(s), {len(report.findings) - n_err} warning(s)")
    return "\n".join(lines)
