"""The rules an assessment must meet before anything is saved (``assessment.classification``):
the classification schemes, which decisions need a reason, who may add to a bank or list a
whole host. The console's form and the API both go through them."""

from __future__ import annotations

import uuid

import pytest

from takedown.assessment.classification import (
    AGE_BAND,
    CODE_MAX,
    INDUSTRY,
    INHOPE,
    MEDIA,
    UK_CATEGORY,
    Classification,
    FormErrors,
    parse_form,
)

CONFIRM = {"decision": "confirm", "inhope": "baseline", "media": "photographic"}


def form(**fields: str) -> dict[str, str]:
    return {"form_id": uuid.uuid4().hex} | fields


def test_the_stored_code_fits_the_columns_with_the_longest_choices() -> None:
    longest = Classification(
        **{s.field: max(s.codes, key=len) for s in (INHOPE, UK_CATEGORY, INDUSTRY, AGE_BAND, MEDIA)}
    )
    assert len(longest.code()) <= CODE_MAX
    assert Classification(inhope="baseline", uk_category="A").code() == "inhope=baseline;uk=A"


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"decision": "confirm", "media": "photographic"}, "inhope", "needs the INHOPE status"),
        ({"decision": "confirm", "inhope": "not_illegal"}, "inhope", "contradicts Confirm"),
        ({"decision": "confirm", "inhope": "baseline"}, "media", "photographic"),
        ({**CONFIRM, "uk_category": "D"}, "uk_category", "Choose one of the UK category"),
        ({**CONFIRM, "age_band": "12"}, "age_band", "Choose one of the Age band"),
        ({"decision": "not_illegal", "note": "benign"}, None, None),
        ({"decision": "not_illegal"}, "note", "Say why"),
        ({"decision": "not_illegal", "note": "x", "uk_category": "A"}, "uk_category", "clear it"),
        ({"decision": "not_illegal", "note": "x", "inhope": "national"}, "inhope", "contradicts"),
        ({"decision": "second_opinion"}, "note", "second person"),
        ({"decision": "maybe"}, "decision", "Choose Confirm"),
        ({**CONFIRM, "scope": "item-3"}, "scope", "one of them"),
        ({**CONFIRM, "add_to_bank": "1", "bank": "x"}, "bank", "banks:write"),
        ({**CONFIRM, "list_host": "1"}, "list_host", "lists:write"),
    ],
)
def test_form_rules(fields: dict[str, str], field: str | None, message: str | None) -> None:
    if field is None:
        parsed = parse_form(form(**fields), may_bank=False, may_list_host=False)
        assert parsed.classification == Classification(inhope="not_illegal")
        return
    with pytest.raises(FormErrors) as caught:
        parse_form(form(**fields), may_bank=False, may_list_host=False)
    assert message is not None
    assert message in caught.value.errors[field]


def test_a_bank_or_a_whole_host_go_with_confirm_only() -> None:
    fields = {"decision": "not_illegal", "note": "x", "add_to_bank": "1", "bank": "b"}
    with pytest.raises(FormErrors) as caught:
        parse_form(form(**fields, list_host="1"), may_bank=True, may_list_host=True)
    assert set(caught.value.errors) == {"bank", "list_host"}
    with pytest.raises(FormErrors) as missing:
        parse_form(form(**CONFIRM, add_to_bank="1"), may_bank=True, may_list_host=True)
    assert "Choose the block-list bank" in missing.value.errors["bank"]
