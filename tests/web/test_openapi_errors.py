"""The OpenAPI document lists every error answer as application/problem+json."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

PROBLEM = {"$ref": "#/components/schemas/Problem"}


def responses(app: FastAPI, method: str, path: str) -> dict[str, Any]:
    found: dict[str, Any] = app.openapi()["paths"][path][method]["responses"]
    return found


def test_errors_are_problems_and_fastapis_own_shape_is_gone(app: FastAPI) -> None:
    document = app.openapi()
    assert "Problem" in document["components"]["schemas"]
    assert "HTTPValidationError" not in str(document)
    for operations in document["paths"].values():
        for operation in operations.values():
            for status, answer in operation["responses"].items():
                if int(status) >= 400:
                    assert answer["content"] == {"application/problem+json": {"schema": PROBLEM}}


def test_each_operation_lists_what_its_dependencies_can_answer(app: FastAPI) -> None:
    # A key or session, a body, a permission, a path parameter.
    report = responses(app, "post", "/api/v1/reports")
    assert {"201", "400", "401", "403", "413", "415", "422", "429", "503"} <= set(report)
    entry = responses(app, "get", "/api/v1/banks/{name}/entries/{entry_id}")
    assert {"200", "401", "403", "404", "422", "503"} <= set(entry)
    assert "409" not in entry
    assert "413" not in entry
    change = responses(app, "patch", "/api/v1/banks/{name}/entries/{entry_id}")
    assert {"404", "409", "413", "415"} <= set(change)
    health = responses(app, "get", "/healthz")
    assert "401" not in health
    assert "400" not in health


def test_integer_parameters_document_their_bounds(app: FastAPI) -> None:
    parameters = app.openapi()["paths"]["/api/v1/cases"]["get"]["parameters"]
    offset = next(p for p in parameters if p["name"] == "offset")
    assert offset["schema"]["maximum"] == 2**63 - 1
    assert offset["schema"]["minimum"] == 0


def test_text_fields_document_the_characters_they_refuse(app: FastAPI) -> None:
    report = app.openapi()["components"]["schemas"]["ReportIn"]["properties"]
    assert report["url"]["pattern"] == r"^[^\u0000-\u001f\u007f]*$"
    assert "pattern" in report["description"]["anyOf"][0]
