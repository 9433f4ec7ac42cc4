import math

import pytest

from gpgcn.io import write_json

from helpers import strict_loads


def test_undefined_values_are_written_as_null(tmp_path):
    write_json(tmp_path / "m.json", {"r": math.nan, "r2": -math.inf, "nested": [1.5, math.inf, {"x": math.nan}]})
    assert strict_loads((tmp_path / "m.json").read_text()) == {
        "r": None,
        "r2": None,
        "nested": [1.5, None, {"x": None}],
    }


def test_strict_reader_refuses_nan():
    with pytest.raises(ValueError, match="NaN is not JSON"):
        strict_loads('{"r": NaN}')
