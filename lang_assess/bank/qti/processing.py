"""Response processing and modal feedback, both ways.

The bank scores by two rules, QTI's two standard templates: ``match_correct`` (right or
wrong) and ``map_response`` (whole points from the mapping).  Items without feedback are
written with the template; items with feedback get the template's rules written out plus
the rule that sets the feedback outcome.  On import the templates are recognised by name,
and written-out rules by their shape (the templates' own rules, with feedback set in their
branches or in a rule of its own); any other response processing is refused, since the
bank could not score the item the way its authors meant.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import Any

from lxml import etree

from lang_assess.bank.qti.interactions import Refused
from lang_assess.bank.qti.markup import local, q, sub

TEMPLATES = "https://purl.imsglobal.org/spec/qti/v3p0/rptemplates/"


def _set(parent: etree._Element, outcome: str, value: etree._Element | None = None,
         base: tuple[str, str] | None = None) -> None:
    s = sub(parent, "qti-set-outcome-value", identifier=outcome)
    if value is not None:
        s.append(value)
    if base is not None:
        sub(s, "qti-base-value", base[1], base_type=base[0])


def _var(tag: str, identifier: str) -> etree._Element:
    return etree.Element(q(tag), {"identifier": identifier})


def _score_rule(kind: str, response: str, feedback: tuple[str, str] | None = None
                ) -> etree._Element:
    """The written-out template rule; ``feedback`` sets the outcome in its branches."""
    cond = etree.Element(q("qti-response-condition"))
    if_ = sub(cond, "qti-response-if")
    else_ = sub(cond, "qti-response-else")
    if kind == "match":
        match = sub(if_, "qti-match")
        match.append(_var("qti-variable", response))
        match.append(_var("qti-correct", response))
        _set(if_, "SCORE", base=("float", "1"))
        _set(else_, "SCORE", base=("float", "0"))
    else:
        sub(if_, "qti-is-null").append(_var("qti-variable", response))
        _set(if_, "SCORE", base=("float", "0"))
        _set(else_, "SCORE", _var("qti-map-response", response))
    if feedback is not None:
        outcome, (right, wrong) = feedback[0], feedback[1]
        _set(if_, outcome, base=("identifier", right))
        _set(else_, outcome, base=("identifier", wrong))
    return cond


def write_processing(root: etree._Element, kind: str, response: str, feedback: dict[str, str],
                     outcome: str) -> None:
    """Append ``qti-response-processing``: ``kind`` is ``match`` or ``map``; ``feedback``
    maps ``correct``/``incorrect`` or option ids (QTI) to modal feedback identifiers."""
    rp = sub(root, "qti-response-processing")
    if not feedback:
        rp.set("template", TEMPLATES + ("match_correct.xml" if kind == "match"
                                        else "map_response.xml"))
        return
    if "correct" in feedback or "incorrect" in feedback:
        pair = (feedback.get("correct", "correct"), feedback.get("incorrect", "incorrect"))
        if kind == "match":
            rp.append(_score_rule(kind, response, (outcome, pair)))
        else:
            rp.append(_score_rule(kind, response))
            rp.append(_score_rule("match", response, (outcome, pair)))
            # only the feedback branch of that second rule may stay: drop its SCORE setters
            for s in list(rp[-1].iter(q("qti-set-outcome-value"))):
                if s.get("identifier") == "SCORE":
                    s.getparent().remove(s)
        return
    rp.append(_score_rule(kind, response))
    _set(rp, outcome, _var("qti-variable", response))


def _canon(el: etree._Element) -> Any:
    if not isinstance(el.tag, str):
        return None
    text = (el.text or "").strip()
    with contextlib.suppress(ValueError):
        text = repr(float(text)) if text else ""
    kids = tuple(c for c in (_canon(c) for c in el) if c is not None)
    return local(el), tuple(sorted(el.attrib.items())), text, kids


def _strip_feedback(rule: etree._Element, outcome_ids: Iterable[str]
                    ) -> tuple[etree._Element, dict[str, str]]:
    """A copy of ``rule`` without its feedback setters, and what each branch set."""
    from copy import deepcopy

    copy, found = deepcopy(rule), {}
    for s in list(copy.iter(q("qti-set-outcome-value"))):
        if s.get("identifier") in outcome_ids:
            value = s.find(q("qti-base-value"))
            branch = local(s.getparent())
            if value is None or branch not in ("qti-response-if", "qti-response-else"):
                raise Refused("qti-set-outcome-value of the feedback outcome that is not "
                              "a fixed identifier in an if/else branch")
            found[branch] = (value.text or "").strip()
            s.getparent().remove(s)
    return copy, found


def read_processing(root: etree._Element, response: str, feedback_outcomes: list[str]
                    ) -> tuple[str | None, dict[str, str], str | None]:
    """(``match``/``map``/None when there is none, feedback ``on`` → modal feedback id or
    ``*`` for per-option feedback, the feedback outcome); raises :class:`Refused`."""
    rp = root.find(q("qti-response-processing"))
    if rp is None:
        return None, {}, None
    template = rp.get("template") or rp.get("template-location") or ""
    if template:
        name = template.rstrip("/").rsplit("/", 1)[-1].removesuffix(".xml").lower()
        if name in ("match_correct", "cc2_match"):
            return "match", {}, None
        if name in ("map_response", "cc2_map_response"):
            return "map", {}, None
        raise Refused(f"response processing template '{name}' (the bank scores with "
                      "match_correct or map_response)")
    kind, feedback, outcome = None, {}, None
    templates = {k: _canon(_score_rule(k, response)) for k in ("match", "map")}
    for rule in rp:
        if not isinstance(rule.tag, str):
            continue
        if local(rule) == "qti-set-outcome-value" and rule.get("identifier") in \
                feedback_outcomes:
            value = rule.find(q("qti-variable"))
            if value is None or value.get("identifier") != response or len(rule) != 1:
                raise Refused("custom response processing (the feedback outcome is set "
                              "to something other than the response)")
            feedback["*"], outcome = "*", rule.get("identifier")
            continue
        stripped, branches = _strip_feedback(rule, feedback_outcomes)
        shape = _canon(stripped)
        if branches:
            outcome = next(s.get("identifier") for s in rule.iter(q("qti-set-outcome-value"))
                           if s.get("identifier") in feedback_outcomes)
            feedback.update({"correct": branches.get("qti-response-if", ""),
                             "incorrect": branches.get("qti-response-else", "")})
        if shape == templates["match"] and kind is None:
            kind = "match"
        elif shape == templates["map"] and kind is None:
            kind = "map"
        elif branches and _is_feedback_only(stripped, response):
            continue
        else:
            raise Refused("custom response processing (construct: qti-response-processing; "
                          "the bank scores with match_correct or map_response)")
    if kind is None and feedback:
        raise Refused("response processing that sets feedback but no score")
    return kind, {k: v for k, v in feedback.items() if v}, outcome


def _is_feedback_only(stripped: etree._Element, response: str) -> bool:
    """A condition on match(response, correct) whose branches set nothing else."""
    cond = _score_rule("match", response)
    for s in list(cond.iter(q("qti-set-outcome-value"))):
        s.getparent().remove(s)
    return _canon(stripped) == _canon(cond)
