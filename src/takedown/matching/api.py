"""Hashing, matching and banks over the JSON API (``/api/v1``).

Uploads are read into memory only (``uploads.py``), within ``TAKEDOWN_MAX_IMAGE_BYTES`` and,
before that, the general request body limit. Bad files get a problem document: 400 for empty,
truncated or corrupt images, 413 for too many bytes or pixels (decompression bombs), 415 for
files that are not an image format we decode.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ValidationError

from takedown.auth.principal import Permission, Principal
from takedown.errors import ValidationFailed
from takedown.matching import bankio, banks, lookup
from takedown.matching.bankio import ExportFormat, ImportFormat
from takedown.matching.errors import ImageTooLarge
from takedown.matching.hasher import HashResult
from takedown.matching.schemas import (
    BankIn,
    BankOut,
    BankPatch,
    EntryIn,
    EntryOut,
    EntryPage,
    EntryPatch,
    HashOut,
    ImportOut,
    MatchResultOut,
    MatchSignalsIn,
)
from takedown.matching.uploads import Upload, read_upload
from takedown.web.deps import State, Tx, json_body, require
from takedown.web.params import Id, Offset, read_json

router = APIRouter(prefix="/api/v1")
Matcher = Annotated[Principal, Depends(require(Permission.MATCH))]
Reader = Annotated[Principal, Depends(require(Permission.BANKS_READ))]
Writer = Annotated[Principal, Depends(require(Permission.BANKS_WRITE))]


def _multipart(extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """OpenAPI for a body read by ``read_upload`` (FastAPI cannot see it)."""
    properties = {"file": {"type": "string", "format": "binary"}, **(extra or {})}
    schema = {"type": "object", "required": ["file"], "properties": properties}
    return {
        "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": schema}}}
    }


async def image_upload(request: Request, state: State) -> Upload:
    return await read_upload(
        request, max_bytes=state.settings.max_image_bytes, too_large=ImageTooLarge
    )


async def list_upload(request: Request, state: State) -> Upload:
    return await read_upload(request, max_bytes=state.settings.max_body_bytes)


ImageUpload = Annotated[Upload, Depends(image_upload)]
ListUpload = Annotated[Upload, Depends(list_upload)]


# -- hashing and matching -----------------------------------------------------------------


@router.post("/hash", response_model=HashOut, tags=["matching"], openapi_extra=_multipart())
def hash_file(_: Matcher, upload: ImageUpload, state: State) -> HashOut:
    """Every signal of an uploaded image (multipart field `file`): MD5, SHA-1, SHA-256 and
    PDQ with its quality and the 8 rotations and flips. Nothing is stored."""
    return HashOut.of(lookup.hash_content(upload.data, state.settings))


@dataclass
class MatchInput:
    upload: Upload | None
    signals: MatchSignalsIn | None


async def match_input(request: Request, state: State) -> MatchInput:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json":
        return MatchInput(await image_upload(request, state), None)
    try:
        return MatchInput(None, MatchSignalsIn.model_validate(await read_json(request)))
    except (ValidationError, ValueError) as exc:
        raise ValidationFailed(f"the body is not a valid match request: {exc}") from exc


_MATCH_BODY = _multipart()
_MATCH_BODY["requestBody"]["content"]["application/json"] = {
    "schema": MatchSignalsIn.model_json_schema()
}


@router.post("/match", response_model=MatchResultOut, tags=["matching"], openapi_extra=_MATCH_BODY)
def match(
    caller: Matcher,
    content: Annotated[MatchInput, Depends(match_input)],
    session: Tx,
    state: State,
    bank: Annotated[list[str] | None, Query(description="Only these banks.")] = None,
) -> MatchResultOut:
    """Match an uploaded image (multipart field `file`) or signals given as JSON
    (`{"signals": {"pdq": "..."}}`) against the enabled banks.

    `known` is true when a block-list match stands. A match on an allow-list bank cancels
    every block-list match of the same content: those are still listed, with `cancelled_by`.
    PDQ matches within each bank's own threshold, in any of the 8 rotations and flips when
    a file is given. The bank's hash, the entry's note and who added it are shown to
    staff only.
    """
    hashed: HashResult | None = None
    if content.upload is not None:
        hashed = lookup.hash_content(content.upload.data, state.settings)
        query: HashResult | dict[str, str] = hashed
        wanted = bank
    else:
        assert content.signals is not None  # match_input returns one of the two
        query = content.signals.signals
        wanted = bank or content.signals.banks
    outcome = lookup.match_hashes(
        session, query, index=lookup.index_of(state.database, state.settings), banks=wanted
    )
    staff = caller.can(Permission.BANKS_READ)
    return MatchResultOut.of(outcome, staff=staff, hashed=hashed)


# -- banks --------------------------------------------------------------------------------


@router.get("/banks", response_model=list[BankOut], tags=["banks"])
def list_banks(_: Reader, session: Tx) -> list[BankOut]:
    """Every bank with its entry counts."""
    return [BankOut.of(s.bank, s) for s in banks.list_banks(session)]


@router.post(
    "/banks",
    response_model=BankOut,
    status_code=status.HTTP_201_CREATED,
    dependencies=[Depends(json_body)],
    tags=["banks"],
)
def create_bank(body: BankIn, caller: Writer, session: Tx, state: State) -> BankOut:
    """Create a bank: a block list (known material) or an allow list (known false positives)."""
    bank = banks.create_bank(
        session,
        caller,
        name=body.name,
        role=body.role,
        pdq_threshold=(
            body.pdq_threshold if body.pdq_threshold is not None else state.settings.pdq_threshold
        ),
        description=body.description,
        enabled=body.enabled,
        now=state.clock.now(),
    )
    return BankOut.of(bank)


@router.get("/banks/{name}", response_model=BankOut, tags=["banks"])
def get_bank(name: str, _: Reader, session: Tx) -> BankOut:
    """One bank with its entry counts."""
    summary = banks.list_banks(session, name=banks.get_bank(session, name).name)[0]
    return BankOut.of(summary.bank, summary)


@router.patch(
    "/banks/{name}", response_model=BankOut, dependencies=[Depends(json_body)], tags=["banks"]
)
def update_bank(name: str, body: BankPatch, caller: Writer, session: Tx, state: State) -> BankOut:
    """Rename a bank, change its role, threshold or description, enable or disable it."""
    bank = banks.update_bank(
        session,
        caller,
        banks.get_bank(session, name),
        **body.model_dump(exclude_unset=True),
        now=state.clock.now(),
    )
    return BankOut.of(bank)


@router.delete("/banks/{name}", status_code=status.HTTP_204_NO_CONTENT, tags=["banks"])
def delete_bank(name: str, caller: Writer, session: Tx, state: State) -> Response:
    """Delete a bank and all its entries."""
    banks.delete_bank(session, caller, banks.get_bank(session, name), now=state.clock.now())
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# -- entries ------------------------------------------------------------------------------


@router.get("/banks/{name}/entries", response_model=EntryPage, tags=["banks"])
def list_entries(
    name: str,
    _: Reader,
    session: Tx,
    signal_type: str | None = None,
    enabled: bool | None = None,
    after: Annotated[Offset, Query(description="Entries after this id.")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> EntryPage:
    """A page of a bank's entries in id order."""
    rows = banks.list_entries(
        session,
        banks.get_bank(session, name),
        signal_type=signal_type,
        enabled=enabled,
        after_id=after,
        limit=limit,
    )
    return EntryPage(
        items=[EntryOut.of(e) for e in rows],
        next_after=rows[-1].id if len(rows) == limit else None,
    )


@router.post(
    "/banks/{name}/entries",
    response_model=EntryOut,
    status_code=status.HTTP_201_CREATED,
    dependencies=[Depends(json_body)],
    tags=["banks"],
)
def add_entry(name: str, body: EntryIn, caller: Writer, session: Tx, state: State) -> EntryOut:
    """Add one hash to a bank (409 if the bank holds it already)."""
    entry = banks.add_entry(
        session, caller, banks.get_bank(session, name), **body.model_dump(), now=state.clock.now()
    )
    return EntryOut.of(entry)


class ContentAddOut(BaseModel):
    added: list[EntryOut]
    existing: list[EntryOut]
    pdq_usable: bool


@router.post(
    "/banks/{name}/entries/upload",
    response_model=ContentAddOut,
    status_code=status.HTTP_201_CREATED,
    tags=["banks"],
    openapi_extra=_multipart({k: {"type": "string"} for k in ("source", "classification", "note")}),
)
def add_file(
    name: str,
    caller: Writer,
    upload: ImageUpload,
    session: Tx,
    state: State,
    types: Annotated[list[str] | None, Query(description="Signal types (default all).")] = None,
) -> ContentAddOut:
    """Hash an uploaded image and add its signals to the bank; the image is not kept."""
    result = lookup.hash_content(upload.data, state.settings)
    added, existing = banks.add_content(
        session,
        caller,
        banks.get_bank(session, name),
        result,
        signal_types=types,
        source=upload.fields.get("source", ""),
        classification=upload.fields.get("classification", ""),
        note=upload.fields.get("note", ""),
        now=state.clock.now(),
    )
    return ContentAddOut(
        added=[EntryOut.of(e) for e in added],
        existing=[EntryOut.of(e) for e in existing],
        pdq_usable=result.pdq_usable,
    )


@router.get("/banks/{name}/entries/{entry_id}", response_model=EntryOut, tags=["banks"])
def get_entry(name: str, entry_id: Id, _: Reader, session: Tx) -> EntryOut:
    return EntryOut.of(banks.get_entry(session, banks.get_bank(session, name), entry_id))


@router.patch(
    "/banks/{name}/entries/{entry_id}",
    response_model=EntryOut,
    dependencies=[Depends(json_body)],
    tags=["banks"],
)
def update_entry(
    name: str, entry_id: Id, body: EntryPatch, caller: Writer, session: Tx, state: State
) -> EntryOut:
    """Disable (`{"enabled": false}`) or enable an entry, or correct its metadata."""
    entry = banks.get_entry(session, banks.get_bank(session, name), entry_id)
    banks.update_entry(
        session, caller, entry, **body.model_dump(exclude_unset=True), now=state.clock.now()
    )
    return EntryOut.of(entry)


@router.delete(
    "/banks/{name}/entries/{entry_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["banks"]
)
def remove_entry(name: str, entry_id: Id, caller: Writer, session: Tx, state: State) -> Response:
    """Delete an entry for good."""
    entry = banks.get_entry(session, banks.get_bank(session, name), entry_id)
    banks.remove_entry(session, caller, entry, now=state.clock.now())
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# -- import and export --------------------------------------------------------------------


@router.post(
    "/banks/{name}/import", response_model=ImportOut, tags=["banks"], openapi_extra=_multipart()
)
def import_entries(
    name: str,
    caller: Writer,
    upload: ListUpload,
    session: Tx,
    state: State,
    format: Annotated[ImportFormat | None, Query(description="Default: guessed.")] = None,
    strict: Annotated[bool, Query(description="Any bad line fails the import.")] = False,
    signal_type: Annotated[str | None, Query(description="For bare hashes (pytx).")] = None,
    source: Annotated[str, Query(max_length=200)] = "",
) -> ImportOut:
    """Load a hash list: our CSV or JSON lines, or a python-threatexchange list.

    Bad lines are reported by line number and the good ones load; with `strict=true` any
    bad line fails the import with 422 and nothing loads.
    """
    try:
        text = upload.data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationFailed(f"the file is not UTF-8 text: {exc}") from exc
    # Split on line ends only (not on U+2028 and friends, which may sit inside JSON strings).
    lines = list(io.StringIO(text, newline=""))
    fmt = format or bankio.detect_format(upload.filename, lines[0] if lines else "")
    report = bankio.import_entries(
        session,
        caller,
        banks.get_bank(session, name),
        lines,
        fmt=fmt,
        signal_type=signal_type,
        source=source or upload.filename,
        strict=strict,
        now=state.clock.now(),
    )
    return ImportOut.of(report)


_MEDIA = {ExportFormat.CSV: "text/csv; charset=utf-8", ExportFormat.JSONL: "application/x-ndjson"}


@router.get(
    "/banks/{name}/export",
    response_class=StreamingResponse,
    tags=["banks"],
    responses={200: {"content": {media: {} for media in _MEDIA.values()}}},
)
def export_entries(
    name: str,
    caller: Reader,
    session: Tx,
    state: State,
    format: ExportFormat = ExportFormat.CSV,
) -> StreamingResponse:
    """Stream every entry of a bank, with its metadata, as CSV or JSON lines."""
    bank = banks.get_bank(session, name)
    bankio.record_export(session, caller, bank, format, now=state.clock.now())
    return StreamingResponse(
        bankio.export_lines(state.database, bank.id, format),
        media_type=_MEDIA[format],
        headers={"Content-Disposition": f'attachment; filename="{bank.name}.{format.value}"'},
    )
