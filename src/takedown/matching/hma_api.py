"""Endpoints shaped like the Hasher-Matcher-Actioner's, so HMA clients can use Takedown.

Same paths, parameters and JSON shapes as HMA 1.1 (``OpenMediaMatch/blueprints/{hashing,
matching,curation}.py``): distances are strings, lookups group ``bank_content_id``s by bank
name, and errors carry HMA's ``message`` member (inside our problem document, with HMA's 400
where we would say 422). Differences, all on the side of caution:

* **Authentication.** HMA has none and expects a proxy in front; these endpoints take our API
  keys (``Authorization: Bearer``) or a staff session like the rest of the API. ``/h`` and
  ``/m`` need the ``match`` permission, reading ``/c/banks`` ``banks:read`` and changing
  banks ``banks:write`` (staff only: keys cannot curate banks).
* **Disabled entries** never match, in ``/m/raw_lookup`` too (HMA's raw lookup ignores them).
* **Allow lists.** ``/m/lookup`` lists only block-list banks whose match no allow-list match
  cancelled: HMA clients act on any bank listed. ``/m/raw_lookup`` lists every hit.
* **Gradual rollout.** A bank's ``matching_enabled_ratio`` is 1 or 0 (enabled or not); the
  coin-flip parameters ``seed`` and ``bypass_coinflip`` are accepted and ignored.
* **URLs.** ``url=`` lookups are refused: fetching is the capture pipeline's job, behind its
  SSRF guard. Upload the file with ``POST /m/lookup`` instead.
* One HMA "content" with several signals becomes one entry per signal: ``/c/bank/<name>/signal``
  answers with the first entry's ``id`` and every id in ``ids``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Annotated, Any, ParamSpec, TypeVar

from fastapi import APIRouter, Body, Depends, Request, status
from fastapi.responses import JSONResponse

from takedown.auth.principal import Permission, Principal
from takedown.errors import BadRequest, Forbidden, TakedownError, ValidationFailed
from takedown.matching import banks, lookup
from takedown.matching.bankio import pytx_name
from takedown.matching.errors import ImageTooLarge
from takedown.matching.hasher import HashResult
from takedown.matching.lookup import MatchOutcome
from takedown.matching.signals import Md5Signal, PdqSignal, get_signal_type
from takedown.matching.uploads import Upload, read_upload
from takedown.web.deps import State, Tx, json_body, require

P = ParamSpec("P")
R = TypeVar("R")
router = APIRouter(tags=["HMA compatibility"])
Matcher = Annotated[Principal, Depends(require(Permission.MATCH))]
Reader = Annotated[Principal, Depends(require(Permission.BANKS_READ))]
Writer = Annotated[Principal, Depends(require(Permission.BANKS_WRITE))]
_UPLOAD = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "photo": {"type": "string", "format": "binary"},
                        "video": {"type": "string", "format": "binary"},
                    },
                }
            }
        },
    }
}


def hma_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Give our errors HMA's ``message`` member, and its 400 for invalid input."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except TakedownError as exc:
            if isinstance(exc, ValidationFailed):
                refused = BadRequest(exc.message)
                refused.extra["message"] = exc.message
                raise refused from exc
            exc.extra.setdefault("message", exc.message)
            raise

    return wrapper


async def media_upload(request: Request, state: State) -> Upload:
    return await read_upload(
        request,
        max_bytes=state.settings.max_image_bytes,
        fields=("photo", "video"),
        too_large=ImageTooLarge,
    )


MediaUpload = Annotated[Upload, Depends(media_upload)]


def _hash_upload(upload: Upload, state: State) -> tuple[dict[str, str], HashResult | None]:
    """HMA's ``{signal_type: hash}`` of an upload; a PDQ under the floor is "" like pytx's."""
    if upload.field_name == "video":
        # Video hashing is MD5 of the file, under pytx's name for it.
        return {"video_md5": Md5Signal.hash_bytes(upload.data)}, None
    result = lookup.hash_content(upload.data, state.settings)
    signals = {name: signal.value for name, signal in result.signals.items()}
    if not result.pdq_usable:
        signals[PdqSignal.name] = ""
    return signals, result


def _select(signals: dict[str, str], types: str | None) -> dict[str, str]:
    if types is None:
        return signals
    wanted = [name.strip() for name in types.split(",") if name.strip()]
    unknown = [name for name in wanted if name not in signals]
    if unknown or not wanted:
        raise BadRequest(f"signal type {', '.join(unknown) or '(none)'} doesn't exist here")
    return {name: signals[name] for name in wanted}


@router.post("/h/hash", openapi_extra=_UPLOAD)
@hma_errors
def hma_hash(
    _: Matcher, upload: MediaUpload, state: State, types: str | None = None
) -> dict[str, str]:
    """Hash an uploaded `photo` (pdq, md5, sha1, sha256) or `video` (video_md5)."""
    return _select(_hash_upload(upload, state)[0], types)


def _lookup(session: Tx, state: State, signal_type: str, signal: str) -> MatchOutcome:
    return lookup.match_hashes(
        session,
        {pytx_name(signal_type): signal},
        index=lookup.index_of(state.database, state.settings),
    )


def _by_bank(outcome: MatchOutcome, signal_type: str | None = None) -> dict[str, Any]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for match in outcome.effective:
        if signal_type is None or match.signal_type == signal_type:
            grouped.setdefault(match.bank, []).append(
                {"bank_content_id": match.entry_id, "distance": str(match.distance)}
            )
    return grouped


def _banks_param(banks_: str | None) -> set[str] | None:
    return {name.strip() for name in banks_.split(",") if name.strip()} if banks_ else None


@router.get("/m/raw_lookup")
@hma_errors
def hma_raw_lookup(
    _: Matcher,
    session: Tx,
    state: State,
    signal_type: str,
    signal: str,
    banks: str | None = None,
    include_distance: bool = False,
) -> dict[str, list[Any]]:
    """Every entry whose signal matches (all roles, no allow-list cancelling)."""
    wanted = _banks_param(banks)
    hits = [
        m
        for m in _lookup(session, state, signal_type, signal).matches
        if wanted is None or m.bank in wanted
    ]
    if include_distance:
        return {
            "matches": [{"bank_content_id": m.entry_id, "distance": str(m.distance)} for m in hits]
        }
    return {"matches": [m.entry_id for m in hits]}


@router.get("/m/lookup")
@hma_errors
def hma_lookup(
    _: Matcher,
    session: Tx,
    state: State,
    signal_type: str | None = None,
    signal: str | None = None,
    url: str | None = None,
    banks: str | None = None,
    seed: str | None = None,
    bypass_coinflip: bool = False,
) -> dict[str, Any]:
    """`{bank: [{bank_content_id, distance}]}` of the block-list banks a hash matches."""
    if url is not None:
        raise BadRequest("url lookups are not supported here; POST the file to /m/lookup")
    if not signal or not signal_type:
        raise BadRequest("Either url or both signal and signal_type are required")
    grouped = _by_bank(_lookup(session, state, signal_type, signal))
    wanted = _banks_param(banks)
    return {k: v for k, v in grouped.items() if wanted is None or k in wanted}


@router.post("/m/lookup", openapi_extra=_UPLOAD)
@hma_errors
def hma_lookup_file(
    _: Matcher,
    upload: MediaUpload,
    session: Tx,
    state: State,
    banks: str | None = None,
    bypass_coinflip: bool = False,
) -> dict[str, Any]:
    """`{signal_type: {bank: [...]}}` for an uploaded `photo` or `video`."""
    signals, result = _hash_upload(upload, state)
    index = lookup.index_of(state.database, state.settings)
    # The whole hash result for a photo, so PDQ matches the 8 rotations and flips too.
    query = result if result is not None else {"md5": signals["video_md5"]}
    outcome = lookup.match_hashes(session, query, index=index)
    wanted = _banks_param(banks)
    response: dict[str, Any] = {}
    for name in signals:
        ours = pytx_name(name)
        grouped = _by_bank(outcome, ours)
        response[name] = {k: v for k, v in grouped.items() if wanted is None or k in wanted}
    return response


@router.post("/m/compare", dependencies=[Depends(json_body)])
@hma_errors
def hma_compare(
    _: Matcher, body: Annotated[dict[str, Any], Body(examples=[{"pdq": ["<hex>", "<hex>"]}])]
) -> dict[str, Any]:
    """Compare pairs of hashes: `{"pdq": [a, b]}` gives `{"pdq": [match, {"distance": d}]}`."""
    results: dict[str, Any] = {}
    for name, pair in body.items():
        if not isinstance(pair, list) or len(pair) != 2:
            raise BadRequest("Comparison hash list length must be exactly 2")
        kind = get_signal_type(pytx_name(name))
        try:
            matches, distance = kind.compare(pair[0], pair[1])
        except TakedownError as exc:
            raise BadRequest(f"Invalid {name} hash: {exc.message}") from exc
        results[name] = [matches, {"distance": distance} if kind.max_threshold else {}]
    return results


@router.get("/c/banks")
@hma_errors
def hma_banks(_: Reader, session: Tx) -> list[dict[str, Any]]:
    """Every bank as `{name, matching_enabled_ratio}` (1.0 enabled, 0.0 disabled)."""
    return [_bank_config(s.bank.name, s.bank.enabled) for s in banks.list_banks(session)]


@router.post("/c/banks", dependencies=[Depends(json_body)], status_code=status.HTTP_201_CREATED)
@hma_errors
def hma_create_bank(
    caller: Writer, session: Tx, state: State, body: Annotated[dict[str, Any], Body()]
) -> JSONResponse:
    """Create a block-list bank from `{name, enabled_ratio?, enabled?}`."""
    ratio = body.get("enabled_ratio")
    enabled = bool(body.get("enabled", True)) if ratio is None else ratio == 1
    if ratio is not None and ratio not in (0, 1):
        raise BadRequest("matching_enabled_ratio must be 0 or 1; partial rollout is not offered")
    name = body.get("name")
    if not isinstance(name, str):
        raise BadRequest("name is required")
    if banks.list_banks(session, name=name):
        # HMA's answer to a duplicate name.
        raise Forbidden("Bank already exists")
    bank = banks.create_bank(
        session,
        caller,
        name=name,
        pdq_threshold=state.settings.pdq_threshold,
        enabled=enabled,
        now=state.clock.now(),
    )
    return JSONResponse(_bank_config(bank.name, bank.enabled), status_code=201)


@router.post("/c/bank/{bank_name}/signal", dependencies=[Depends(json_body)])
@hma_errors
def hma_add_signals(
    bank_name: str,
    caller: Writer,
    session: Tx,
    state: State,
    body: Annotated[dict[str, Any], Body(examples=[{"pdq": "<64 hex>"}])],
) -> dict[str, Any]:
    """Add raw signals `{"pdq": "..."}` to a bank: `{"id": ..., "signals": {...}}`."""
    if not body:
        raise BadRequest("No signals given")
    bank = banks.get_bank(session, bank_name)
    ids: dict[str, int] = {}
    signals: dict[str, str] = {}
    for name, value in body.items():
        if not isinstance(value, str):
            raise BadRequest(f"Invalid {name} signal: not a string")
        entry = banks.add_entry(
            session,
            caller,
            bank,
            signal_type=pytx_name(name),
            value=value,
            source="hma-api",
            now=state.clock.now(),
        )
        ids[name] = entry.id
        signals[name] = entry.value
    return {"id": next(iter(ids.values())), "ids": ids, "signals": signals}


def _bank_config(name: str, enabled: bool) -> dict[str, Any]:
    return {"name": name, "matching_enabled_ratio": 1.0 if enabled else 0.0}
