"""Recognising templates and results shapes from headers (and, where names are ambiguous,
values)."""

from __future__ import annotations

import pytest

from reconciler.detect import ResultShape, detect_results, detect_template, parse_map_options
from reconciler.errors import ShapeError, UsageError
from reconciler.templates import Template
from tests.helpers import table

MOD = ["ActionId", "Oid", "ActionTrackerId", "Amount", "Reason"]


@pytest.mark.parametrize(
    ("header", "rows", "template"),
    [
        (MOD, [["1.1.1", "", "", "0", "ITEM_RETURNED"]], Template.MODIFICATION),
        (["action id", "AMOUNT", "reason"], [["M1.1", "1", "ORDER_UPDATE"]], Template.MOBILE),
        (
            ["Action_Id", "Order Id", "Action Tracker ID", "Amount", "Reason"],
            [["1.1", "", "", "0", "X"]],
            Template.MODIFICATION,
        ),
        (
            ["Oid", "ActionTrackerId", "Reason"],
            [["O1", "1", "RESET"], ["O2", "1", "reset"]],
            Template.RESET,
        ),
        (
            ["Oid", "ActionTrackerId", "Reason"],
            [["O1", "1", "RESET"], ["O2", "1", "CONS_FRAUD"]],
            Template.MODIFICATION,
        ),
        (
            ["ActionId", "Sku1", "Quantity1", "Amount1", "Reason"],
            [["1.1", "S", "1", "2", "ORDER_UPDATE"]],
            Template.ITEM_MODIFICATION,
        ),
        (
            ["Oid", "ActionTrackerId", "Sku", "Quantity", "Reason"],
            [["O", "1", "S", "1", "ORDER_UPDATE"]],
            Template.ITEM_MODIFICATION,
        ),
        (
            ["CampaignId", "ActionTrackerId", "EventDate", "OrderId", "ClickId", "Amount"],
            [["1", "2", "2026-01-01T00:00:00Z", "O", "c", "1"]],
            Template.CONVERSION,
        ),
        (
            ["CampaignId", "ActionTrackerId", "EventDate", "OrderId", "Sku", "Quantity", "Amount"],
            [["1", "2", "d", "O", "S", "1", "1"]],
            Template.ITEM_CONVERSION,
        ),
        (
            ["CampaignId", "ActionTrackerId", "CustomerId", "OrderId", "EventDate", "Amount"],
            [["1", "45678", "C1", "O1", "d", "1"], ["1", "12345", "C1", "O2", "d", "1"]],
            Template.CHAINED_CONVERSION,
        ),
    ],
)
def test_template(header: list[str], rows: list[list[str]], template: Template) -> None:
    assert detect_template(table(header, rows)).template is template


def test_unknown_headers_are_refused_with_advice() -> None:
    with pytest.raises(ShapeError, match="none of the headers"):
        detect_template(table(["Order", "Total"], [["1", "2"]]))


SENT = table(MOD, [["1.1.1", "", "", "0", "ITEM_RETURNED"]])


@pytest.mark.parametrize(
    ("header", "fmt", "shape", "fields"),
    [
        (
            ["Line", "Order Id", "Error Type", "Message"],
            "csv",
            ResultShape.ERROR_LIST,
            {"line": "Line", "code": "Message", "oid": "Order Id"},
        ),
        (
            ["Row #", "OrderId", "Sku", "ErrorType", "Error"],
            "xlsx",
            ResultShape.ERROR_LIST,
            {"line": "Row #", "code": "Error"},
        ),
        (
            ["Line", "OrderId", "Status", "Reason"],
            "json",
            ResultShape.FTP_ERROR_DETAILS,
            {"code": "Reason", "error_type": "Status"},
        ),
        (
            ["BatchId", "OrderId", "ActionTrackerId", "Status", "ErrorType", "ErrorReason"],
            "json",
            ResultShape.API_SUBMISSIONS,
            {"code": "ErrorReason", "submission_status": "Status"},
        ),
        (
            [*MOD, "Status", "Error Message"],
            "csv",
            ResultShape.SENT_WITH_STATUS,
            {"code": "Error Message", "record_status": "Status"},
        ),
    ],
)
def test_results_shape(
    header: list[str], fmt: str, shape: ResultShape, fields: dict[str, str]
) -> None:
    values = {
        "Status": {"json": "Validation", "csv": "Error"}[fmt if fmt != "xlsx" else "csv"],
    }
    if "BatchId" in header:
        values["Status"] = "Complete"
    row = [values.get(h, "x") for h in header]
    schema = detect_results(table(header, [row], fmt=fmt), detect_template(SENT), SENT)
    assert schema.shape is shape
    for name, label in fields.items():
        assert schema.fields[name] == label


def test_reason_in_a_sent_with_status_file_is_not_the_error_code() -> None:
    res = table([*MOD, "Result"], [["1.1.1", "", "", "0", "ITEM_RETURNED", "Success"]])
    schema = detect_results(res, detect_template(SENT), SENT)
    assert schema.shape is ResultShape.SENT_WITH_STATUS
    assert "code" not in schema.fields
    assert schema.fields["record_status"] == "Result"


def test_map_overrides_and_validation() -> None:
    res = table(["Row", "Problem", "Ord"], [["2", "NO_CHANGE", "x"]])
    overrides = parse_map_options(["line=Row", "code=problem", "oid=Ord"])
    schema = detect_results(res, detect_template(SENT), SENT, overrides)
    assert (schema.fields["line"], schema.fields["code"], schema.fields["oid"]) == (
        "Row",
        "Problem",
        "Ord",
    )
    with pytest.raises(UsageError, match="unknown field"):
        parse_map_options(["colour=Red"])
    with pytest.raises(UsageError, match="FIELD=COLUMN"):
        parse_map_options(["line"])


def test_results_without_code_or_ties_are_refused() -> None:
    with pytest.raises(ShapeError, match="--map code=COLUMN"):
        detect_results(table(["Line", "Order Id"], [["2", "x"]]), detect_template(SENT), SENT)
    with pytest.raises(ShapeError, match="result field"):
        detect_results(table(["foo", "bar"], []), detect_template(SENT), SENT)


def test_an_ftp_error_list_is_named_as_such_whatever_its_columns_look_like() -> None:
    from dataclasses import replace

    from reconciler.detect import ResultSchema, ResultShape
    from reconciler.summary import shape_title

    errors = replace(
        table(
            ["OrderId", "ErrorType", "ErrorReason"],
            [["T1", "Validation", "NO_CHANGE"]],
            fmt="json",
            name="errors.json",
        ),
        container="ErrorDetail",
    )
    schema = ResultSchema(shape=ResultShape.API_SUBMISSIONS, fields={"oid": "OrderId"})
    assert shape_title(schema, errors) == "Brand API FTP error details (JSON, no line numbers)"
    listed = replace(errors, container="APISubmissions")
    assert shape_title(schema, listed) == "API submission records (no line numbers)"
