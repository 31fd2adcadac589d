"""What each list publishes now, as rows (see ``lists.rows`` for the columns)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from takedown.lists import entries, keywords
from takedown.lists.models import ListName
from takedown.lists.rows import Row
from takedown.matching.models import Bank, BankEntry, BankRole


def hash_rows(session: Session) -> list[Row]:
    """Every enabled entry of every enabled block-list bank. Allow-list banks never leave: they
    name benign images, and members only ever block with the list."""
    result = session.execute(
        select(Bank.name, BankEntry.signal_type, BankEntry.value, BankEntry.classification)
        .join(Bank, Bank.id == BankEntry.bank_id)
        .where(Bank.role == BankRole.BLOCK_LIST, Bank.enabled, BankEntry.enabled)
    )
    # Classification is free text: tabs and line breaks become spaces, so a row stays a row.
    return [
        (bank, signal, value, " ".join(classification.split()))
        for bank, signal, value, classification in result
    ]


SOURCES: dict[ListName, Callable[[Session], list[Row]]] = {
    ListName.URLS: entries.active_rows,
    ListName.HASHES: hash_rows,
    ListName.KEYWORDS: keywords.live_rows,
}


def current_rows(session: Session, name: ListName) -> list[Row]:
    return SOURCES[name](session)
