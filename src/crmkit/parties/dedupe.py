"""Duplicate detection for leads, contacts and accounts: blocking, clustering, survivors.

Records are compared only inside blocks: groups of records that share a
blocking key (an email, a phone key, or a company-scoped name token). Pairs
are scored by `crmkit.parties.scoring` (its public names and those of
`crmkit.parties.matching` are re-exported here); matches are joined
into clusters with union-find, and `choose_survivor` picks the record a merge
keeps. Pure domain code: no I/O, no clock. See docs/dedupe.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal, localcontext
from typing import Final

import attrs

from crmkit.kernel.errors import ValidationError
from crmkit.parties.matching import (
    GMAIL_DOMAINS,
    LEGAL_SUFFIXES,
    PHONE_KEY_DIGITS,
    Candidate,
    jaro_winkler,
    name_tokens,
    normalise_company,
    normalise_email,
    normalise_name,
    normalise_phone,
    phone_key,
)
from crmkit.parties.scoring import (
    DedupeConfig,
    Match,
    Reason,
    Signal,
    _config,
    _score,
    _shared,
    _View,
    _view,
    score,
    similarity,
)

__all__ = [
    "GMAIL_DOMAINS",
    "LEGAL_SUFFIXES",
    "MAX_KEYS",
    "PHONE_KEY_DIGITS",
    "Candidate",
    "DedupeConfig",
    "DedupeResult",
    "DedupeStats",
    "Match",
    "Reason",
    "Signal",
    "blocking_keys",
    "check",
    "choose_survivor",
    "find_duplicates",
    "jaro_winkler",
    "name_tokens",
    "normalise_company",
    "normalise_email",
    "normalise_name",
    "normalise_phone",
    "phone_key",
    "score",
    "similarity",
]

MAX_KEYS: Final = 6
"""At most this many blocking keys per record: 2 emails, 2 phones, 2 name keys (or 1 company)."""

_PART: Final = 16  # characters of a company or token kept in a name key


def _keys(view: _View) -> tuple[str, ...]:
    keys = [f"e:{email}" for email in view.emails[:2]]
    keys += [f"p:{phone}" for phone in view.phones[:2]]
    if view.org and view.company:
        keys.append(f"c:{view.company[:_PART]}")
    elif view.company and view.tokens:
        # A name counts only with a second signal; email and phone have their own
        # keys, so a name key need only find people of the same company. One key
        # per token of the two longest: a one-character typo spoils only one.
        longest = sorted(view.tokens, key=lambda t: (-len(t), t))[:2]
        keys += [f"n:{view.company[:_PART]}:{token[:_PART]}" for token in longest]
    return tuple(sorted(set(keys)))


def blocking_keys(candidate: Candidate) -> tuple[str, ...]:
    """The keys a record is blocked under (sorted, at most `MAX_KEYS`).

    ``e:<email>`` for the first two distinct normalised emails, ``p:<last 9 digits>``
    for the first two distinct phone keys, and for a person with a company
    ``n:<company>:<token>`` for the two longest name tokens; an organisation
    (name equal to company, as `Candidate.of_account` builds it) gets
    ``c:<company>`` instead. Store them as a multi-valued index field: the
    capture-time check is then a query for records sharing any key.

    >>> from datetime import UTC, datetime
    >>> anna = Candidate("l-1", "lead", "Anna Berg", ("Anna.Berg+web@gmail.com",),
    ...     ("+49 30 12345678",), "ACME GmbH", created_at=datetime(2026, 1, 1, tzinfo=UTC))
    >>> blocking_keys(anna)
    ('e:annaberg@gmail.com', 'n:acme:anna', 'n:acme:berg', 'p:012345678')
    """
    return _keys(_view(candidate))


def _ratio(comparisons: int, records: int) -> Decimal:
    if records < 2:
        return Decimal(0)
    with localcontext() as ctx:
        ctx.prec = 4
        return Decimal(2 * comparisons) / Decimal(records * records)


@attrs.frozen
class DedupeStats:
    """What a `find_duplicates` run did.

    Attributes:
        records: Candidates read.
        blocks: Blocks of two or more records that were compared.
        comparisons: Distinct pairs compared (a pair sharing several keys is compared once).
        skipped_blocks: Blocks over ``max_block`` members, skipped as too common.
        skipped_members: Members of those blocks (counted once per block).
        pair_fraction: ``comparisons / (records² / 2)``, four significant digits.
    """

    records: int
    blocks: int
    comparisons: int
    skipped_blocks: int
    skipped_members: int
    pair_fraction: Decimal


@attrs.frozen
class DedupeResult:
    """Duplicates found among a set of candidates.

    Attributes:
        matches: Each duplicate pair once, best score first, then by ids.
        clusters: Connected components of the matches (union-find): each a tuple
            of two or more ids, sorted; clusters sorted by their first id.
        stats: What the run did.
    """

    matches: tuple[Match, ...]
    clusters: tuple[tuple[str, ...], ...]
    stats: DedupeStats


def _clusters(matches: Iterable[Match]) -> tuple[tuple[str, ...], ...]:
    parent: dict[str, str] = {}

    def root(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]  # path halving keeps the trees flat
            x = parent[x]
        return x

    for match in matches:
        ra, rb = root(match.a_id), root(match.b_id)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    groups: dict[str, list[str]] = {}
    for x in parent:
        groups.setdefault(root(x), []).append(x)
    return tuple(sorted(tuple(sorted(group)) for group in groups.values()))


def _candidates(candidates: object, field: str) -> list[Candidate]:
    if isinstance(candidates, str | bytes) or not isinstance(candidates, Iterable):
        raise ValidationError(field, "must be an iterable of Candidate", type(candidates).__name__)
    out = list(candidates)
    for i, candidate in enumerate(out):
        if not isinstance(candidate, Candidate):
            raise ValidationError(f"{field}[{i}]", "must be a Candidate", type(candidate).__name__)
    return out


def _passes(config: DedupeConfig) -> tuple[bool, ...]:
    # Whether a pair with these equal signals (email, phone, company) could reach the
    # threshold even with equal names: the cheap test that skips most pairs unscored.
    out = []
    for mask in range(8):
        miss = 1 - float(config.name_weight)
        if mask & 4:
            miss *= 1 - float(config.email_weight)
        if mask & 2:
            miss *= 1 - float(config.phone_weight)
        if mask & 1:
            miss *= 1 - float(config.company_weight)
        out.append(1 - miss >= float(config.threshold) - 0.001)
    return tuple(out)


def _first_shared(
    block: str, mine: tuple[str, ...], theirs: tuple[str, ...], skipped: set[str]
) -> bool:
    # Whether ``block`` is the smallest key the two records share outside skipped
    # blocks: each pair is then compared once, however many keys it shares.
    for key in mine:
        if key == block:
            return True
        if key in theirs and key not in skipped:
            return False
    return True


def find_duplicates(
    candidates: Iterable[Candidate], config: DedupeConfig | None = None
) -> DedupeResult:
    """Every duplicate pair among ``candidates``, their clusters and the run's stats.

    Ids must be unique across the input (crmkit's ids are, across kinds).
    """
    config = _config(config)
    records = _candidates(candidates, "candidates")
    views = [_View(c) for c in records]
    seen: set[str] = set()
    for i, view in enumerate(views):
        if view.id in seen:
            raise ValidationError(f"candidates[{i}].id", "must be unique", view.id)
        seen.add(view.id)
    del seen
    # A key maps to the one record that has it, or to a list once a second one does:
    # most keys (emails, phones) are unique, and an int costs far less than a list.
    blocks: dict[str, int | list[int]] = {}
    keys_of = [_keys(view) for view in views]
    for i, keys in enumerate(keys_of):
        for key in keys:
            got = blocks.get(key)
            if got is None:
                blocks[key] = i
            elif isinstance(got, int):
                blocks[key] = [got, i]
            else:
                got.append(i)
    skipped = {
        key for key, got in blocks.items() if isinstance(got, list) and len(got) > config.max_block
    }
    passes = _passes(config)
    threshold = config.threshold
    found: dict[tuple[str, str], Match] = {}
    compared = skipped_members = comparisons = 0
    for block, members in blocks.items():
        if isinstance(members, int):
            continue
        if block in skipped:
            skipped_members += len(members)
            continue
        compared += 1
        for n, i in enumerate(members):
            x = views[i]
            xe, xp, xc, xk = x.emails, x.phones, x.company, keys_of[i]
            for j in members[n + 1 :]:
                if not _first_shared(block, xk, keys_of[j], skipped):
                    continue  # compared in the block of a smaller shared key
                comparisons += 1
                y = views[j]
                mask = (
                    (4 if _shared(xe, y.emails) else 0)
                    | (2 if _shared(xp, y.phones) else 0)
                    | (1 if xc is not None and xc == y.company else 0)
                )
                if not passes[mask]:
                    continue
                match = _score(x, y, config)
                if match.score >= threshold:
                    found[match.ids] = match
    del blocks
    matches = tuple(sorted(found.values(), key=lambda m: (-m.score, m.a_id, m.b_id)))
    stats = DedupeStats(
        len(views),
        compared,
        comparisons,
        len(skipped),
        skipped_members,
        _ratio(comparisons, len(views)),
    )
    return DedupeResult(matches, _clusters(matches), stats)


def check(
    candidate: Candidate, existing: Iterable[Candidate], config: DedupeConfig | None = None
) -> tuple[Match, ...]:
    """Capture-time check: the existing records that ``candidate`` duplicates, best first.

    ``existing`` is typically what a store returns for records sharing any of
    the candidate's `blocking_keys`; a record with the candidate's own id is ignored.
    """
    config = _config(config)
    new = _view(candidate)
    found = []
    for other in _candidates(existing, "existing"):
        if other.id == new.id:
            continue
        match = _score(new, _View(other), config)
        if match.score >= config.threshold:
            found.append(match)
    return tuple(sorted(found, key=lambda m: (-m.score, m.a_id, m.b_id)))


def choose_survivor(cluster: Sequence[Candidate]) -> Candidate:
    """The record a merge keeps: most ``filled`` fields, then the oldest, then the smallest id.

    The rule is a total order on distinct ids, so the result does not depend on
    the order of ``cluster``.
    """
    records = _candidates(cluster, "cluster")
    if not records:
        raise ValidationError("cluster", "must not be empty")
    return min(records, key=lambda c: (-c.filled, c.created_at, c.id))
