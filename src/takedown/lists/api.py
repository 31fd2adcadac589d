"""The lists over the JSON API.

Members (organizations' API keys with ``lists:read``) download the lists they are members of:
``GET /api/v1/lists/{name}/latest?format=...`` with ``If-None-Match``, a version by number, and
``GET /api/v1/lists/{name}/diff?since=N``. Every file carries its Ed25519 signature in the
``Takedown-Signature`` header (base64; the public key is at ``/api/v1/lists/public-key``).
Staff list and withdraw URL entries (``lists:write``; a whole host needs a second person),
keep the keyword list, and supervisors (``lists:publish``) publish past the guard and manage
members.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Response

from takedown import runtime
from takedown.auth.principal import Permission, Principal
from takedown.errors import ValidationFailed
from takedown.lists import downloads, entries, keywords, members, signing, versions
from takedown.lists.list_schemas import (
    DraftOut,
    EntryIn,
    EntryListOut,
    EntryOut,
    KeywordIn,
    KeywordListOut,
    KeywordOut,
    MemberIn,
    MemberListOut,
    MemberOut,
    PublishIn,
    PublishOut,
    ReasonIn,
    VersionListOut,
    VersionOut,
)
from takedown.lists.models import EntryStatus
from takedown.web.deps import State, Tx, json_body, require
from takedown.web.params import Id, Offset

router = APIRouter(tags=["lists"])
Reader = Annotated[Principal, Depends(require(Permission.LISTS_READ))]
Writer = Annotated[Principal, Depends(require(Permission.LISTS_WRITE))]
Publisher = Annotated[Principal, Depends(require(Permission.LISTS_PUBLISH))]
JSON = [Depends(json_body)]


@router.get("/api/v1/lists/public-key", response_class=Response)
def public_key(state: State) -> Response:
    """The Ed25519 public key (PEM) that verifies every list file and diff."""
    pem = signing.public_key_pem(signing.signing_key(state.settings))
    return Response(pem, media_type="application/x-pem-file")


def _file_response(file: downloads.ListFile) -> Response:
    return Response(
        file.body,
        media_type=file.media_type,
        headers={
            "ETag": file.etag,
            "Takedown-List-Version": str(file.version),
            "Takedown-Signature": file.signature.decode("ascii").strip(),
            "Content-Disposition": f'attachment; filename="{file.filename}"',
            "Cache-Control": "private, no-cache",
        },
    )


def _download(
    session: Tx,
    state: State,
    caller: Principal,
    name: str,
    fmt: str,
    number: int | None,
    if_none_match: str | None,
) -> Response:
    file = downloads.download(
        session,
        caller,
        versions.list_name(name),
        fmt,
        number=number,
        if_none_match=if_none_match,
        settings=state.settings,
        now=state.clock.now(),
    )
    if file.not_modified:
        return Response(status_code=304, headers={"ETag": file.etag})
    return _file_response(file)


@router.get("/api/v1/lists/{name}/latest", response_class=Response)
def latest_file(
    name: str,
    caller: Reader,
    session: Tx,
    state: State,
    format: Annotated[str, Query()] = "txt",
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """The latest version in ``format``; 304 when ``If-None-Match`` holds its ETag."""
    return _download(session, state, caller, name, format, None, if_none_match)


@router.get("/api/v1/lists/{name}/versions/{number}", response_class=Response)
def version_file(
    name: str,
    number: Id,
    caller: Reader,
    session: Tx,
    state: State,
    format: Annotated[str, Query()] = "txt",
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    return _download(session, state, caller, name, format, number, if_none_match)


@router.get("/api/v1/lists/{name}/diff", response_class=Response)
def list_diff(
    name: str, caller: Reader, session: Tx, state: State, since: Annotated[Offset, Query()]
) -> Response:
    """What changed from version ``since`` to the latest (0: everything), signed JSON."""
    body, signature = downloads.diff_document(
        session,
        caller,
        versions.list_name(name),
        since,
        settings=state.settings,
        now=state.clock.now(),
    )
    return Response(
        body,
        media_type="application/json",
        headers={"Takedown-Signature": signature.decode("ascii").strip()},
    )


@router.get("/api/v1/lists/{name}/versions", response_model=VersionListOut)
def list_versions(name: str, caller: Writer, session: Tx) -> VersionListOut:
    found = versions.all_versions(session, versions.list_name(name))
    return VersionListOut(items=[VersionOut.of(v) for v in found])


@router.get("/api/v1/lists/{name}/draft", response_model=DraftOut)
def list_draft(name: str, caller: Writer, session: Tx, state: State) -> DraftOut:
    """What publishing now would change, and what the guard says about it."""
    plan = versions.draft(
        session, versions.list_name(name), runtime.effective(session, state.settings)
    )
    return DraftOut(
        name=plan.name.value,
        previous=plan.previous.number if plan.previous else None,
        changed=plan.changed,
        digest=plan.digest,
        entry_count=len(plan.rows),
        added=[list(r) for r in plan.change.added[:1000]],
        removed=[list(r) for r in plan.change.removed[:1000]],
        violations=[v.as_dict() for v in plan.violations],
    )


@router.post("/api/v1/lists/{name}/publish", response_model=PublishOut, dependencies=JSON)
def publish(name: str, body: PublishIn, caller: Publisher, session: Tx, state: State) -> PublishOut:
    """Publish now if the list changed; 409 with the guard's findings unless ``approve``
    with ``reviewed`` (the draft's digest: 409 when the list changed since)."""
    if body.approve and body.reviewed is None:
        raise ValidationFailed(
            "an approval names the draft it approves: send the draft's digest as 'reviewed'",
            field="reviewed",
        )
    version = versions.publish(
        session,
        versions.list_name(name),
        actor=caller,
        now=state.clock.now(),
        settings=runtime.effective(session, state.settings),
        approve=body.approve,
        reviewed=body.reviewed,
    )
    return PublishOut(
        published=version is not None, version=VersionOut.of(version) if version else None
    )


@router.get("/api/v1/lists/urls/entries", response_model=EntryListOut)
def list_entries(
    caller: Writer,
    session: Tx,
    status: EntryStatus | None = None,
    host: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[Offset, Query()] = 0,
) -> EntryListOut:
    found = entries.search(session, status=status, host=host, limit=limit, offset=offset)
    return EntryListOut(items=[EntryOut.of(e) for e in found])


@router.post(
    "/api/v1/lists/urls/entries", response_model=EntryOut, status_code=201, dependencies=JSON
)
def add_entry(body: EntryIn, caller: Writer, session: Tx, state: State) -> EntryOut:
    """List a URL, a directory, or a whole dedicated site (which waits for a second person)."""
    entry = entries.add_by_hand(
        session,
        body.expression,
        reason=body.reason,
        dedicated_site=body.dedicated_site,
        case_id=body.case_id,
        actor=caller,
        now=state.clock.now(),
        settings=state.settings,
    )
    return EntryOut.of(entry)


@router.post("/api/v1/lists/urls/entries/{entry_id}/approve", response_model=EntryOut)
def approve_entry(entry_id: uuid.UUID, caller: Writer, session: Tx, state: State) -> EntryOut:
    """The second person approves a whole host; 409 for the person who proposed it."""
    entry = entries.get_entry(session, entry_id)
    return EntryOut.of(entries.approve(session, entry, actor=caller, now=state.clock.now()))


@router.post(
    "/api/v1/lists/urls/entries/{entry_id}/withdraw", response_model=EntryOut, dependencies=JSON
)
def withdraw_entry(
    entry_id: uuid.UUID, body: ReasonIn, caller: Writer, session: Tx, state: State
) -> EntryOut:
    entry = entries.get_entry(session, entry_id)
    return EntryOut.of(
        entries.withdraw(session, entry, actor=caller, now=state.clock.now(), reason=body.reason)
    )


@router.get("/api/v1/lists/keywords/terms", response_model=KeywordListOut)
def list_keywords(caller: Writer, session: Tx) -> KeywordListOut:
    return KeywordListOut(items=[KeywordOut.of(k) for k in keywords.live(session)])


@router.post(
    "/api/v1/lists/keywords/terms", response_model=KeywordOut, status_code=201, dependencies=JSON
)
def add_keyword(body: KeywordIn, caller: Writer, session: Tx, state: State) -> KeywordOut:
    keyword = keywords.add(session, body.term, body.reason, actor=caller, now=state.clock.now())
    return KeywordOut.of(keyword)


@router.delete("/api/v1/lists/keywords/terms/{keyword_id}", response_model=KeywordOut)
def remove_keyword(keyword_id: uuid.UUID, caller: Writer, session: Tx, state: State) -> KeywordOut:
    keyword = keywords.remove(session, keyword_id, actor=caller, now=state.clock.now())
    return KeywordOut.of(keyword)


@router.get("/api/v1/lists/{name}/members", response_model=MemberListOut)
def list_members(name: str, caller: Publisher, session: Tx) -> MemberListOut:
    found = members.members(session, versions.list_name(name))
    return MemberListOut(items=[MemberOut.of(m) for m in found])


@router.put("/api/v1/lists/{name}/members/{org_id}", response_model=MemberOut, dependencies=JSON)
def put_member(
    name: str, org_id: uuid.UUID, body: MemberIn, caller: Publisher, session: Tx, state: State
) -> MemberOut:
    """Make an organization a member (for the hash list: of which banks; none means all)."""
    member = members.grant(
        session, org_id, versions.list_name(name), body.banks, actor=caller, now=state.clock.now()
    )
    return MemberOut.of(member)


@router.delete("/api/v1/lists/{name}/members/{org_id}", status_code=204, response_class=Response)
def delete_member(
    name: str, org_id: uuid.UUID, caller: Publisher, session: Tx, state: State
) -> Response:
    members.revoke(session, org_id, versions.list_name(name), actor=caller, now=state.clock.now())
    return Response(status_code=204)
