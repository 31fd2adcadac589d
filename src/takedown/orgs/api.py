"""The organization directory over the JSON API (``/api/v1/orgs``).

Staff with ``orgs:read`` (administrators, supervisors, analysts) see the directory; only
``orgs:manage`` (administrators) changes it. API keys never see it: it holds other
organizations' contacts. Webhook secrets are write-only.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from takedown.auth.principal import Permission, Principal
from takedown.errors import PayloadTooLarge
from takedown.orgs import directory, service
from takedown.orgs.directory import DirectoryFormat
from takedown.orgs.models import OrgKind
from takedown.orgs.schemas import (
    ImportOut,
    LookupOut,
    OrgDetailOut,
    OrgIn,
    OrgListOut,
    OrgOut,
    OrgPatch,
)
from takedown.web.deps import State, Tx, json_body, require
from takedown.web.params import Offset

router = APIRouter(prefix="/api/v1/orgs", tags=["organizations"])
Reader = Annotated[Principal, Depends(require(Permission.ORGS_READ))]
Manager = Annotated[Principal, Depends(require(Permission.ORGS_MANAGE))]
Format = Annotated[DirectoryFormat, Query(alias="format")]


async def file_body(request: Request) -> bytes:
    """The raw request body, read up to the directory's file limit."""
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > directory.MAX_BYTES:
            raise PayloadTooLarge(f"a directory file has at most {directory.MAX_BYTES} bytes")
    return bytes(data)


def _detail(session: Tx, org_id: uuid.UUID) -> OrgDetailOut:
    org = service.get_org(session, org_id)
    return OrgDetailOut.with_identifiers(org, service.identifiers(session, org))


@router.get("", response_model=OrgListOut)
def list_orgs(
    _: Reader,
    session: Tx,
    kind: OrgKind | None = None,
    country: Annotated[
        str | None, Query(max_length=2, description="Based in or serving this country.")
    ] = None,
    q: Annotated[str | None, Query(max_length=200, description="Part of the name.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[Offset, Query()] = 0,
) -> OrgListOut:
    """Organizations by name."""
    rows, total = service.search_orgs(
        session, kind=kind, country=country, q=q, limit=limit, offset=offset
    )
    return OrgListOut(total=total, items=[OrgOut.of(org) for org in rows])


@router.post(
    "",
    response_model=OrgDetailOut,
    status_code=status.HTTP_201_CREATED,
    dependencies=[Depends(json_body)],
)
def create_org(body: OrgIn, caller: Manager, session: Tx, state: State) -> OrgDetailOut:
    """Add an organization with its contacts and identifiers."""
    org = service.add_org(session, caller, **body.model_dump(), now=state.clock.now())
    return _detail(session, org.id)


@router.get("/lookup", response_model=LookupOut)
def lookup(_: Reader, session: Tx, ip: Annotated[str, Query(max_length=64)]) -> LookupOut:
    """Which organization's network holds an IP address (IPv4 or IPv6)."""
    return LookupOut.of(ip, service.lookup_ip(session, ip))


@router.get(
    "/export",
    response_class=Response,
    responses={200: {"content": {"application/yaml": {}, "text/csv": {}}}},
)
def export(
    _: Reader,
    session: Tx,
    fmt: Format = DirectoryFormat.YAML,
    kind: OrgKind | None = None,
    country: Annotated[str | None, Query(max_length=2)] = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """The directory (or the organizations matching the filters) as a file to import.

    Webhook secrets are never exported here; importing the file keeps the stored ones.
    """
    text = directory.export_directory(session, fmt, kind=kind, country=country, q=q)
    return Response(
        text,
        media_type=fmt.media_type,
        headers={"Content-Disposition": f'attachment; filename="directory.{fmt.value}"'},
    )


@router.post(
    "/import",
    response_model=ImportOut,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/yaml": {}, "text/csv": {}},
        }
    },
)
def import_file(
    caller: Manager,
    session: Tx,
    state: State,
    data: Annotated[bytes, Depends(file_body)],
    fmt: Format = DirectoryFormat.YAML,
    partial: bool = False,
) -> ImportOut:
    """Create and update organizations from a YAML or CSV file (the raw body).

    Any problem refuses the whole file (422, every problem listed with its line) unless
    `partial=true`, which imports the good entries and lists the others.
    """
    report = directory.import_directory(
        session, caller, data, fmt=fmt, partial=partial, now=state.clock.now()
    )
    return ImportOut.of(report)


@router.get("/{org_id}", response_model=OrgDetailOut)
def get_org(org_id: uuid.UUID, _: Reader, session: Tx) -> OrgDetailOut:
    """One organization with everything that identifies it."""
    return _detail(session, org_id)


@router.patch("/{org_id}", response_model=OrgDetailOut, dependencies=[Depends(json_body)])
def update_org(
    org_id: uuid.UUID, body: OrgPatch, caller: Manager, session: Tx, state: State
) -> OrgDetailOut:
    """Change the fields given. An identifier list replaces the whole set; null clears a
    contact (abuse e-mail, webhook URL or secret)."""
    service.update_org(
        session, caller, org_id, **body.model_dump(exclude_unset=True), now=state.clock.now()
    )
    return _detail(session, org_id)


@router.delete("/{org_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_org(org_id: uuid.UUID, caller: Manager, session: Tx, state: State) -> Response:
    """Delete an organization with its identifiers and API keys."""
    service.delete_org(session, caller, org_id, now=state.clock.now())
    return Response(status_code=status.HTTP_204_NO_CONTENT)
