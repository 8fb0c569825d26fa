"""Bad item parameters give one clear error naming the item and the field."""

import numpy as np
import pytest

from lang_assess.bank import read_params_csv, read_thetas_csv
from lang_assess.engine.irt import ItemParameters
from lang_assess.errors import BankError

IDS = ["A1-001", "A1-002", "B1-003"]


@pytest.mark.parametrize(
    ("a", "b", "c", "ids", "expected"),
    [
        ([1.0, np.nan, 1.2], [0, 0, 0], None, IDS, "item 'A1-002': field 'a' is nan"),
        ([1.0, 1.0, 1.2], [0, np.nan, 0], None, IDS, "item 'A1-002': field 'b' has a missing"),
        ([1.0, -0.4, 1.2], [0, 0, 0], None, IDS, "item 'A1-002': field 'a' is -0.4"),
        ([1.0, 1.0, 1.2], [0, 0, 0], [0, 0, 1.0], IDS, "item 'B1-003': field 'c' is 1"),
        ([1.0, 1.0, 1.2], [0, 0, 0], [0, -0.1, 0], IDS, "item 'A1-002': field 'c' is -0.1"),
        ([1.0, 1.0, 1.2], [0, 0, 0], None, ["X", "Y", "X"],
         "item 'X': field 'id' is duplicated (rows 1 and 3)"),
        ([1.0, 1.0], [0, 0, 0], None, IDS, "field 'a' has 2 values but 'ids' has 3 items"),
        ([1.0, 1.0, 1.0], [0, 0, 0], [0, 0], IDS, "field 'c' has 2 values but 'ids' has 3"),
    ],
)
def test_each_bad_value_is_named(a, b, c, ids, expected):
    with pytest.raises(BankError) as err:
        ItemParameters.dichotomous(ids, a, b, c)
    assert expected in str(err.value)
    assert len(str(err.value).splitlines()) == 1


def test_all_problems_are_reported_at_once():
    with pytest.raises(BankError) as err:
        ItemParameters.dichotomous(["x", "y", "x"], [np.nan, -1, 1], [0, 0, 0], [0, 2, 0])
    problems = err.value.problems
    assert len(problems) == 4
    assert str(err.value).startswith("4 problems:")


def test_gpcm_steps_and_guessing():
    with pytest.raises(BankError, match="item 'g1': field 'steps' has a missing"):
        ItemParameters.gpcm(["g0", "g1"], [1, 1], [[0, 1, 2], [0, np.nan, 2]])
    ok = ItemParameters.gpcm(["g0", "g1"], [1, 1], [[0, 1, 2], [0, 1, np.nan]])
    assert ok.n_steps.tolist() == [3, 2]
    with pytest.raises(BankError, match="item 'g0': field 'c' must be 0"):
        ItemParameters(ids=ok.ids.copy(), a=ok.a.copy(), steps=ok.steps.copy(),
                       c=np.array([0.2, 0.0]), skill=ok.skill.copy())


def test_parameters_are_read_only():
    bank = ItemParameters.dichotomous(["a"], [1.0], [0.0])
    with pytest.raises(ValueError, match="read-only"):
        bank.a[0] = 2.0


def test_csv_errors_name_file_line_item_and_field(tmp_path):
    f = tmp_path / "params.csv"
    f.write_text("item,a,b,c\nx1,1.2,0.1,\nx2,abc,0.3,0.1\nx3,1,zero,0\n")
    with pytest.raises(BankError) as err:
        read_params_csv(f)
    msg = str(err.value)
    assert str(f) in msg
    assert "line 3, item 'x2': field 'a' is not a number ('abc')" in msg
    assert "line 4, item 'x3': field 'b' is not a number ('zero')" in msg


def test_csv_missing_column_and_missing_file(tmp_path):
    f = tmp_path / "p.csv"
    f.write_text("item,a\nx,1\n")
    with pytest.raises(BankError, match="missing column\\(s\\) 'b'"):
        read_params_csv(f)
    with pytest.raises(BankError, match="file not found"):
        read_params_csv(tmp_path / "nope.csv")


def test_csv_validation_errors_keep_the_file_name(tmp_path):
    f = tmp_path / "p.csv"
    f.write_text("item,a,b,skill\nx,1,0,reading\nx,0.5,1,grammar\n")
    with pytest.raises(BankError, match=r"p\.csv: item 'x': field 'id' is duplicated"):
        read_params_csv(f)


def test_csv_reads_optional_columns(tmp_path):
    f = tmp_path / "p.csv"
    f.write_text("item,a,b,c,skill\nx,1.5,-0.5,0.2,reading\ny,0.8,1.0,,grammar\n")
    bank = read_params_csv(f)
    assert bank.ids.tolist() == ["x", "y"]
    assert bank.c.tolist() == [0.2, 0.0]
    assert bank.skill.tolist() == ["reading", "grammar"]


def test_thetas_csv(tmp_path):
    f = tmp_path / "t.csv"
    f.write_text("person,theta\np1,0.5\np2,-1\n")
    assert read_thetas_csv(f).tolist() == [0.5, -1.0]
    f.write_text("person,theta\np1,inf\n")
    with pytest.raises(BankError, match="line 2: field 'theta' is not a finite number"):
        read_thetas_csv(f)
