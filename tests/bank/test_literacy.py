"""Guessing in the v0 parameters, and which items a person who cannot read can answer:
the routing stage the bank builds for the placement test."""

import shutil

import numpy as np
import pytest
import yaml
from support import REPO

from lang_assess.bank.expert import chance_level, expert_parameters
from lang_assess.bank.literacy import is_routing_item, needs_reading
from lang_assess.bank.loader import load_bank
from lang_assess.bank.schema import CHOICE_TYPES
from lang_assess.errors import BankError

BANK = REPO / "item_bank" / "nb"


@pytest.fixture(scope="module")
def bank():
    return load_bank(BANK)


def test_v0_guessing_is_one_over_the_number_of_options(bank):
    for item_id in bank.item_ids:
        item = bank.items[item_id]
        c = bank.params.c[bank.params.index_of([item_id])[0]]
        if item.type in CHOICE_TYPES:
            assert c == pytest.approx(1 / len(item.options), abs=1e-4), item_id
        else:
            assert c == 0, item_id
    assert chance_level(bank.items["nb-preA1-lit-031"]) == pytest.approx(1 / 3)


def test_the_shipped_v0_file_is_the_expert_rule(bank):
    rule = expert_parameters([bank.items[i] for i in bank.item_ids], bank.cuts)
    np.testing.assert_allclose(bank.params.a, rule.a, atol=1e-4)
    np.testing.assert_allclose(bank.params.b, rule.b, atol=1e-4)
    np.testing.assert_allclose(bank.params.c, rule.c, atol=1e-4)
    models = {row.split(",")[1] for row in (BANK / "params" / "v0.csv").read_text(
        encoding="utf-8").splitlines()[1:]}
    assert models <= {"2pl", "3pl", "gpcm"} and "3pl" in models


def test_items_that_need_no_reading(bank):
    items = bank.items.values()
    routing = [it for it in items if is_routing_item(it)]
    assert len(routing) >= 10
    assert all(it.type in ("mc_picture", "mc_audio") and it.stem_audio is not None
               and it.level in ("preA1", "A1") for it in routing)
    assert all(not needs_reading(it) for it in items if it.skill == "literacy")
    assert all(needs_reading(it) for it in items if it.skill in ("reading", "grammar"))
    text_options = [it for it in items if it.type == "mc_text" and it.skill != "literacy"]
    assert text_options and all(needs_reading(it) for it in text_options)


def test_the_routed_placement_design(bank):
    plain, routed = bank.design("placement"), bank.design("placement", routing=True)
    assert plain.selector.routing is None
    stage = routed.selector.routing
    assert stage.n_items == 4 and stage.cut == bank.cuts.cuts[0]
    assert set(stage.readers_skip) == {i for i, it in bank.items.items()
                                       if it.skill == "literacy"}
    assert set(stage.route) <= set(stage.no_reading)
    assert routed.selector.content.targets["literacy"] == pytest.approx(0.4)
    assert "literacy" not in plain.selector.content.targets
    assert routed.population_weight == plain.population_weight == pytest.approx(0.7)
    assert stage.literacy_steps.labels == ("1", "2", "3", "4")
    with pytest.raises(ValueError, match="no routing for the progress design"):
        bank.design("progress", routing=True)


def test_literacy_steps_must_match_their_labels(tmp_path):
    root = tmp_path / "nb"
    shutil.copytree(BANK, root)
    config = yaml.safe_load((root / "bank.yaml").read_text(encoding="utf-8"))
    config["designs"]["placement"]["routing"]["literacy_labels"] = ["1", "2"]
    (root / "bank.yaml").write_text(yaml.safe_dump(config, allow_unicode=True),
                                    encoding="utf-8")
    with pytest.raises(BankError, match="literacy_labels' needs 4 labels"):
        load_bank(root)
