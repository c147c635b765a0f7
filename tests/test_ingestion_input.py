"""Uploads that are not CSV, JSON or NDJSON at all are refused whole, in the one error
shape, leaving nothing behind; the readers find every record of those that are."""

import io
import json
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from crm.documents import Customer, Ingestion
from crm.services.ingestion import formats
from crm.services.ingestion.kinds import CUSTOMERS, ORDERS
from tests.helpers.http import assert_error

GOOD = {"customer_id": "c1", "name": "Asha", "email": "asha@example.com"}


@pytest.fixture
def settings(settings):
    return replace(settings, max_upload_bytes=20_000, ingest_chunk_size=2)


def post(client, body, content_type, kind="customers", **query):
    return client.post(
        f"/api/{kind}/bulk", data=body, content_type=content_type, query_string=query
    )


def assert_nothing_written():
    assert Ingestion.objects.count() == 0
    assert Customer.objects.count() == 0


@pytest.mark.parametrize(
    ("body", "content_type", "code", "detail"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\xff\xfe", "text/csv", 400, "file"),
        (b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00\xb5U\x8f", None, 400, "file"),
        (b"just some text\nand more\n", "text/csv", 422, "header"),
        (b"", "text/csv", 422, "file"),
        (b'{"customers": []}', "application/json", 400, "file"),
        (b"[" * 10_000, "application/json", 400, "file"),
        (b"not json at all\n" + json.dumps(GOOD).encode(), "application/x-ndjson", 400, "file"),
        (b"<customers/>", "application/xml", 415, "headers"),
        (b"customer_id,name,email,Loyalty Tier\nc1,A,a@b.co,gold\n", "text/csv", 422, "header"),
        (b"customer_id,name,name,email\nc1,A,A,a@b.co\n", "text/csv", 422, "header"),
    ],
)
def test_an_upload_that_is_not_a_file_of_records_is_refused(
    client, body, content_type, code, detail
):
    errors = assert_error(post(client, body, content_type), code)
    assert detail in errors
    assert_nothing_written()


def test_csv_header_missing_a_required_column_names_it(client):
    errors = assert_error(post(client, "customer_id,email\nc1,a@b.co\n", "text/csv"), 422)
    assert errors["header"] == {"name": ["Missing column."]}


def test_orders_csv_with_an_unknown_column_is_refused(client):
    body = "order_id,customer_id,order_amount,order_date,coupon\no1,c1,5,2024-01-01,X\n"
    errors = assert_error(post(client, body, "text/csv", kind="orders"), 422)
    assert list(errors["header"]) == ["coupon"]


def test_json_broken_after_many_good_records_writes_nothing(client):
    records = [{**GOOD, "customer_id": f"c{i}", "email": f"c{i}@example.com"} for i in range(20)]
    body = json.dumps(records)[:-40]
    errors = assert_error(post(client, body, "application/json"), 400)
    assert errors["file"]
    assert_nothing_written()


def test_larger_than_the_upload_limit_is_413(client):
    row = "c{0},Name {0},c{0}@example.com\n"
    body = "customer_id,name,email\n" + "".join(row.format(i) for i in range(1000))
    assert_error(post(client, body, "text/csv"), 413)
    assert_nothing_written()


def test_unknown_format_parameter_and_missing_form_file_are_422(client):
    assert "format" in assert_error(post(client, "x", "text/csv", format="xlsx"), 422)["query"]
    form = client.post(
        "/api/customers/bulk", data={"other": "x"}, content_type="multipart/form-data"
    )
    errors = assert_error(form, 422)
    assert errors["files"] == {"file": ["Missing data for required field."]}


def test_unknown_ingestion_is_404(client):
    assert_error(client.get("/api/ingestions/000000000000000000000000"), 404)
    assert_error(client.get("/api/ingestions/nope"), 404)


def test_bulk_upload_needs_an_api_key(anonymous):
    assert_error(anonymous.post("/api/customers/bulk", data="", content_type="text/csv"), 401)


# --- the readers -----------------------------------------------------------------------


def records(body: bytes, fmt=None, kind=CUSTOMERS):
    upload = formats.Upload(io.BytesIO(body), fmt)
    return upload.format, list(upload.records(kind))


def test_csv_reader_takes_semicolons_a_bom_crlf_and_quoted_newlines():
    body = (
        '\ufeffCustomer_ID;Name;Email;city\r\nc1;"Rao; Asha";a@b.co;"Pune\r\nMH"\r\n'
        "\r\nc2;B;b@b.co;\r\n"
    )
    fmt, rows = records(body.encode())
    assert fmt == "csv"
    assert rows == [
        (
            2,
            {
                "customer_id": "c1",
                "name": "Rao; Asha",
                "email": "a@b.co",
                "attributes": {"city": "Pune\r\nMH"},
            },
        ),
        (5, {"customer_id": "c2", "name": "B", "email": "b@b.co"}),
    ]


def test_csv_reader_reads_integers_and_leaves_the_rest_to_the_schema():
    body = b"customer_id,name,email,visit_count,total_spends\nc1,A,a@b.co,7,12.50\nc2,B,b@b.co,x,\n"
    _, rows = records(body)
    assert rows[0][1]["visit_count"] == 7 and rows[0][1]["total_spends"] == "12.50"
    assert rows[1][1]["visit_count"] == "x" and "total_spends" not in rows[1][1]


def test_sniffing_without_a_content_type():
    assert records(b'  [{"order_id": "o1"}]', kind=ORDERS)[0] == "json"
    assert records(b'{"order_id": "o1"}\n', kind=ORDERS)[0] == "ndjson"
    assert records(b"order_id,customer_id,order_amount,order_date\n", kind=ORDERS)[0] == "csv"


def test_ndjson_reader_rejects_a_bad_line_and_reads_on():
    body = b'{"a": 1}\n\n{oops\n[1]\n{"b": 2}\n'
    _, rows = records(body, "ndjson")
    assert [(row, type(record).__name__) for row, record in rows] == [
        (1, "dict"),
        (3, "RowError"),
        (4, "RowError"),
        (5, "dict"),
    ]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=8,
)


@hypothesis_settings(max_examples=200, deadline=None)
@given(
    elements=st.lists(json_values, max_size=12),
    read_size=st.integers(1, 40),
    indent=st.sampled_from([None, 1, 4]),
)
def test_json_array_reader_finds_every_element_whatever_the_read_size(
    elements, read_size, indent, monkeypatch_module
):
    monkeypatch_module.setattr(formats, "READ_SIZE", read_size)
    body = json.dumps(elements, indent=indent, ensure_ascii=False).encode()
    _, rows = records(body, "json")
    assert [row for row, _ in rows] == list(range(1, len(elements) + 1))
    for (_, record), element in zip(rows, elements, strict=True):
        if isinstance(element, dict):
            assert record == element
        else:
            assert isinstance(record, formats.RowError)


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch
