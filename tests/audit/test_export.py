"""Spreadsheet exports never hand a formula to Excel, WPS or LibreOffice."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import openpyxl
import pytest

from casehub.audit.export import neutralise, xlsx_bytes


@pytest.mark.parametrize("text", ["=1+2", "+SUM(A1)", "-2+3", "@cmd", "\t=x", "\r=x", "=HYPERLINK(\"x\")"])
def test_csv_formula_starts_get_an_apostrophe(text):
    assert neutralise(text) == "'" + text


@pytest.mark.parametrize("value,expected", [("盗窃案", "盗窃案"), ("a=b", "a=b"), (None, ""), (42, 42), (-3, -3)])
def test_ordinary_values_are_unchanged(value, expected):
    assert neutralise(value) == expected


def test_aware_datetimes_are_written_in_local_time(settings):
    assert neutralise(datetime(2026, 1, 1, 0, 0, tzinfo=UTC)) == "2026-01-01 08:00:00"  # Asia/Shanghai


def test_xlsx_cells_are_strings_not_formulas_and_numbers_stay_numbers():
    data = xlsx_bytes([("表/1", ["名称", "数量"], [["=1+2", 3], ["-1", 2.5]])])
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    assert sheet.title == "表 1"
    values = [[(c.value, c.data_type) for c in row] for row in sheet.iter_rows()]
    assert values[1] == [("=1+2", "s"), (3, "n")]
    assert values[2] == [("-1", "s"), (2.5, "n")]
