"""`lang-assess simulate-programme`: the contract other tools script (issue 15)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from support import REPO, write_easier_truth

from lang_assess.bank.loader import load_bank

SCRIPT = Path(sys.executable).parent / "lang-assess"
BANK = REPO / "item_bank" / "nb"
KEYS = {"mean_wait_weeks", "median_wait_weeks", "p90_wait_weeks", "premature_move_rate",
        "term_baseline_mean_wait_weeks", "term_baseline_premature_move_rate",
        "mean_weekly_items", "stalled_sensitivity", "stalled_false_rate"}


def run(*args):
    return subprocess.run([str(SCRIPT), "simulate-programme", "--bank-dir", str(BANK),
                           "--n", "40", "--weeks", "16", *args],
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def base():
    out = run("--seed", "3", "--json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_json_has_the_contracts_fields(base):
    assert set(base) >= KEYS
    assert base["n"] == 40 and base["weeks"] == 16
    assert base["mean_wait_weeks"] <= base["p90_wait_weeks"]
    assert 0 <= base["premature_move_rate"] <= 1
    assert 5 <= base["mean_weekly_items"] <= load_bank(BANK).design("progress").stop.max_items


def test_answers_from_other_parameters_change_the_decisions(base, tmp_path):
    bank = load_bank(BANK)
    # every item 1 logit easier than the bank says: learners look better than they are,
    # so moves come early and too early
    truth = write_easier_truth(tmp_path / "true.csv", bank.params, 1.0)
    out = run("--seed", "3", "--respond-with", str(truth), "--json")
    assert out.returncode == 0, out.stderr
    easy = json.loads(out.stdout)
    assert easy["premature_move_rate"] > base["premature_move_rate"] + 0.2
    assert easy["mean_wait_weeks"] < base["mean_wait_weeks"]


def test_a_table_without_json_and_a_bad_file_in_one_line(tmp_path):
    out = run("--seed", "3", "--max-items", "8")
    assert out.returncode == 0, out.stderr
    assert "term_baseline_mean_wait_weeks" in out.stdout and "seed 3" in out.stdout
    bad = tmp_path / "true.csv"
    bad.write_text("item,a,b,c\nnb-A1-gra-001,-1,0,0\n")
    out = run("--respond-with", str(bad), "--json")
    assert out.returncode == 2 and out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and str(bad) in lines[0] and "field 'a' is -1" in lines[0]
