"""`lang-assess simulate --bank-dir ...`: the contract other tools script (issue 13)."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from support import REPO, write_easier_truth

from lang_assess.bank.loader import load_bank

SCRIPT = Path(sys.executable).parent / "lang-assess"
BANK = REPO / "item_bank" / "nb"
FIELDS = {"n", "bias", "rmse", "mean_length", "cefr_accuracy", "placed_too_high",
          "placed_too_low"}


def run(*args):
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def thetas(tmp_path_factory):
    rng = np.random.default_rng(21)
    tracks = np.repeat([1, 2, 3], 40)
    theta = np.r_[rng.normal(-2.6, 0.5, 40), rng.normal(-1.2, 0.8, 40),
                  rng.normal(0.2, 0.9, 40)]
    path = tmp_path_factory.mktemp("sim") / "thetas.csv"
    path.write_text("theta,track\n" + "".join(f"{t:.4f},{k}\n"
                                              for t, k in zip(theta, tracks, strict=True)))
    return path


def test_json_by_track_and_by_level(thetas):
    out = run("simulate", "--bank-dir", str(BANK), "--design", "placement", "--thetas",
              str(thetas), "--seed", "4", "--json")
    assert out.returncode == 0, out.stderr
    s = json.loads(out.stdout)
    assert set(s) >= FIELDS and s["n"] == 120
    assert set(s["by_track"]) == {"1", "2", "3"}
    assert all(set(row) >= FIELDS and row["n"] == 40 for row in s["by_track"].values())
    assert set(s["by_level"]) <= {"preA1", "A1", "A2", "B1", "B2", "C1"}
    assert sum(row["n"] for row in s["by_level"].values()) == 120
    for row in (s, *s["by_track"].values(), *s["by_level"].values()):
        assert row["cefr_accuracy"] + row["placed_too_high"] + row["placed_too_low"] == (
            pytest.approx(1.0))
    # Track 1 starts from its own prior with the routing stage: short tests
    assert s["by_track"]["1"]["mean_length"] < s["by_track"]["3"]["mean_length"]
    again = run("simulate", "--bank-dir", str(BANK), "--design", "placement", "--thetas",
                str(thetas), "--seed", "4", "--json")
    assert json.loads(again.stdout) == s


def test_respond_with_other_parameters(thetas, tmp_path):
    bank = load_bank(BANK)
    # every item (each step of a rated task too) 1.5 logits easier than the bank says:
    # placed too high
    truth = write_easier_truth(tmp_path / "true.csv", bank.params, 1.5)
    base = json.loads(run("simulate", "--bank-dir", str(BANK), "--thetas", str(thetas),
                          "--seed", "5", "--json").stdout)
    out = run("simulate", "--bank-dir", str(BANK), "--thetas", str(thetas), "--seed", "5",
              "--respond-with", str(truth), "--json")
    assert out.returncode == 0, out.stderr
    easy = json.loads(out.stdout)
    assert easy["bias"] > base["bias"] + 0.8
    assert easy["placed_too_high"] > base["placed_too_high"] + 0.3


def test_progress_design_and_a_table(thetas):
    out = run("simulate", "--bank-dir", str(BANK), "--design", "progress", "--thetas",
              str(thetas), "--seed", "6")
    assert out.returncode == 0, out.stderr
    assert "progress design of" in out.stdout and "by track:" in out.stdout
    assert "weekly prior as the service forms it" in out.stdout


@pytest.mark.parametrize(("name", "content", "message"), [
    ("thetas", "theta,track\n0.1,4\n", "line 2: field 'track' is '4' (use 1, 2 or 3)"),
    ("thetas", "theta,track\nx,1\n", "line 2: field 'theta' is not a finite number"),
    ("thetas", "ability\n0.1\n", "missing column 'theta'"),
    ("truth", "item,a,b,c\nnb-A1-gra-001,1,0,0.25\n", "has no parameters to draw answers"),
    ("truth", "item,a,b,c\nnb-A1-gra-001,-1,0,0\n", "field 'a' is -1"),
])
def test_bad_files_end_with_one_line(tmp_path, thetas, name, content, message):
    path = tmp_path / f"{name}.csv"
    path.write_text(content)
    args = ["--thetas", str(path)] if name == "thetas" else [
        "--thetas", str(thetas), "--respond-with", str(path)]
    out = run("simulate", "--bank-dir", str(BANK), *args, "--json")
    assert out.returncode == 2 and out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lang-assess: error: ")
    assert message in lines[0]
    assert str(path) in lines[0]


def test_bank_and_bank_dir_are_one_or_the_other(thetas, tmp_path):
    out = run("simulate", "--thetas", str(thetas))
    assert out.returncode == 2 and "one of the arguments --bank --bank-dir" in out.stderr
    out = run("simulate", "--bank-dir", str(tmp_path), "--thetas", str(thetas))
    assert out.returncode == 2 and "no bank.yaml" in out.stderr
