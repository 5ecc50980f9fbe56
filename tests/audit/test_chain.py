"""The audit chain: seal, verify, erasure, and tamper detection for every envelope field."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import attrs
import pytest
from hypothesis import given, settings, strategies as st

from crmkit.audit.chain import GENESIS, SealedEntry, VerifyReport, entry_hash, seal, verify
from crmkit.audit.diff import Change
from crmkit.audit.entry import (
    AuditEntry,
    AuditKey,
    AuditPayload,
    EntryKind,
    payload_digest,
    record_change,
    record_erasure,
)
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.loading import Loaders
from crmkit.kernel.principal import ActorKind, Principal
from crmkit.kernel.serialization import dumps, loads, make_converter, structure

KEY = AuditKey("k1", b"s" * 32)
T0 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
ANNA = Principal("u-anna")
JOB = Principal("nightly", kind=ActorKind.JOB)


def _change(i: int, name: str = "Anna", key: AuditKey = KEY) -> tuple[AuditEntry, AuditPayload]:
    changes = (
        Change("first_name", None, f"{name}{i}", personal=True),
        Change("title", None, "CFO"),
    )
    principal = JOB if i % 3 == 0 else ANNA
    at = T0 + timedelta(minutes=i)
    return record_change(
        f"a-{i:03}", at, principal, "contact_changed", "contact", "c-1", i, changes, key
    )


def _chain(n: int) -> tuple[list[SealedEntry], dict[str, str | None]]:
    pairs = [_change(i) for i in range(1, n + 1)]
    sealed = seal(None, [entry for entry, _ in pairs])
    return sealed, {p.entry_id: p.body for _, p in pairs}


def _flip(hex64: str) -> str:
    return ("1" if hex64[0] != "1" else "2") + hex64[1:]


# One mutation per envelope field: a different, valid value.
_ENTRY_MUTATIONS: dict[str, Callable[[Any], Any]] = {
    "id": lambda v: v + "x",
    "at": lambda v: v + timedelta(microseconds=1),
    "principal_id": lambda v: v + "x",
    "actor_kind": lambda v: ActorKind.RULE if v is not ActorKind.RULE else ActorKind.USER,
    "command": lambda v: v + "x",
    "record_kind": lambda v: v + "x",
    "record_id": lambda v: v + "x",
    "record_version": lambda v: 7 if v is None else v + 1,
    "fields": lambda v: (*v, "zz"),
    "payload_digest": lambda v: "a" * 64 if v is None else _flip(v),
    "key_id": lambda v: "k9" if v is None else v + "x",
    "kind": lambda v: EntryKind.ERASURE if v is EntryKind.CHANGE else EntryKind.CHANGE,
    "erased": lambda v: (*v, "zz"),
}
_SEALED_MUTATIONS: dict[str, Callable[[Any], Any]] = {
    "sequence": lambda v: v + 1,
    "prev_hash": _flip,
    "hash": _flip,
}
ENVELOPE_FIELDS = [*(f"entry.{name}" for name in _ENTRY_MUTATIONS), *_SEALED_MUTATIONS]


def _mutate(item: SealedEntry, field: str) -> SealedEntry:
    if field.startswith("entry."):
        name = field.removeprefix("entry.")
        entry = attrs.evolve(
            item.entry, **{name: _ENTRY_MUTATIONS[name](getattr(item.entry, name))}
        )
        return attrs.evolve(item, entry=entry)
    return attrs.evolve(item, **{field: _SEALED_MUTATIONS[field](getattr(item, field))})


# --- round trip ----------------------------------------------------------------


def test_seal_then_verify_round_trip() -> None:
    sealed, payloads = _chain(5)
    assert [s.sequence for s in sealed] == [1, 2, 3, 4, 5]
    assert sealed[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(sealed))
    report = verify(sealed, payloads, KEY)
    assert report == VerifyReport(True, 5, head_hash=sealed[-1].hash)


def test_empty_chain_verifies() -> None:
    assert verify([], {}, KEY) == VerifyReport(True, 0)


def test_seal_continues_from_last_and_orders_by_time_then_id() -> None:
    first, payloads = _chain(2)
    late = [_change(9)[0], _change(5)[0], attrs.evolve(_change(6)[0], at=T0 + timedelta(minutes=5))]
    more = seal(first[-1], late)
    assert [s.sequence for s in more] == [3, 4, 5]
    assert [s.entry.id for s in more] == ["a-005", "a-006", "a-009"]
    assert more[0].prev_hash == first[-1].hash
    # The sequence orders the chain: a later batch may hold earlier instants.
    older = seal(more[-1], [attrs.evolve(_change(7)[0], at=T0)])
    chain = [*first, *more, *older]
    payloads.update({e.id: _change(int(e.id[2:]))[1].body for e in (s.entry for s in chain)})
    assert verify(chain, payloads, KEY).ok


def test_sealed_entry_survives_storage_round_trip() -> None:
    sealed, payloads = _chain(3)
    conv = make_converter()
    stored = [json.loads(dumps(conv.unstructure(s))) for s in sealed]
    assert [structure(conv, data, SealedEntry) for data in stored] == sealed
    loaded = [Loaders().load(SealedEntry, loads(dumps(data))) for data in stored]
    assert verify(loaded, payloads, KEY).ok


def test_hash_does_not_depend_on_the_offset_an_instant_is_stored_with() -> None:
    entry = _change(1)[0]
    berlin = attrs.evolve(entry, at=entry.at.astimezone(ZoneInfo("Europe/Berlin")))
    assert entry_hash(1, berlin, GENESIS) == entry_hash(1, entry, GENESIS)


# --- tampering with envelopes ----------------------------------------------------


def test_every_envelope_field_has_a_mutation() -> None:
    names = {f.name for f in attrs.fields(AuditEntry)}
    assert set(_ENTRY_MUTATIONS) == names
    assert set(_SEALED_MUTATIONS) == {f.name for f in attrs.fields(SealedEntry)} - {"entry"}


@pytest.mark.parametrize("field", ENVELOPE_FIELDS)
@pytest.mark.parametrize("position", [0, 2, 4])
def test_editing_any_envelope_field_fails_at_that_entry(field: str, position: int) -> None:
    sealed, payloads = _chain(5)
    sealed[position] = _mutate(sealed[position], field)
    report = verify(sealed, payloads, KEY)
    assert not report.ok
    assert report.first_bad == position + 1
    assert report.checked == position
    assert report.head_hash == (sealed[position - 1].hash if position else None)
    assert report.reason is not None
    assert report.reason.startswith(f"entry {position + 1}: ")


def test_rehashing_an_edited_entry_breaks_the_next_link() -> None:
    sealed, payloads = _chain(4)
    entry = attrs.evolve(sealed[1].entry, principal_id="u-mallory")
    sealed[1] = attrs.evolve(sealed[1], entry=entry, hash=entry_hash(2, entry, sealed[1].prev_hash))
    report = verify(sealed, payloads, KEY)
    assert (report.ok, report.first_bad) == (False, 3)
    assert report.reason == "entry 3: prev_hash is not the hash of entry 2 (the chain is broken)"


def test_deleting_an_entry_fails_where_it_was() -> None:
    sealed, payloads = _chain(5)
    del sealed[2]
    report = verify(sealed, payloads, KEY)
    assert (report.ok, report.first_bad, report.checked) == (False, 3, 2)
    assert report.reason == "entry 3: found sequence 4 (an entry is missing or out of order)"


def test_swapping_two_entries_fails_at_the_first() -> None:
    sealed, payloads = _chain(5)
    sealed[1], sealed[3] = sealed[3], sealed[1]
    report = verify(sealed, payloads, KEY)
    assert (report.ok, report.first_bad) == (False, 2)


def test_truncating_the_tail_shows_only_in_the_head_hash() -> None:
    sealed, payloads = _chain(5)
    anchored = sealed[-1].hash  # a copy the host keeps elsewhere
    report = verify(sealed[:-1], payloads, KEY)
    assert report.ok  # verify alone cannot see a missing tail ...
    assert report.head_hash != anchored  # ... the anchored head can


# --- payloads ----------------------------------------------------------------------


def test_editing_a_payload_fails_without_showing_it() -> None:
    sealed, payloads = _chain(4)
    payloads["a-003"] = str(payloads["a-003"]).replace("Anna3", "Berta")
    report = verify(sealed, payloads, KEY)
    assert (report.ok, report.first_bad) == (False, 3)
    assert report.reason == "entry 3: payload does not match its digest (the payload was changed)"
    assert "Anna" not in repr(report)
    assert "Berta" not in repr(report)


def test_moving_a_payload_to_another_entry_fails() -> None:
    sealed, payloads = _chain(3)
    payloads["a-002"] = payloads["a-001"]
    assert verify(sealed, payloads, KEY).first_bad == 2


def test_deleting_a_payload_without_erasure_fails() -> None:
    sealed, payloads = _chain(4)
    payloads["a-002"] = None
    del payloads["a-004"]
    report = verify(sealed, payloads, KEY)
    assert (report.ok, report.first_bad, report.checked) == (False, 2, 4)
    assert report.reason == "entry 2: payload is missing and no erasure entry covers it"


def test_a_payload_under_an_unknown_key_fails() -> None:
    sealed, payloads = _chain(2)
    report = verify(sealed, payloads, AuditKey("k2", b"t" * 32))
    assert (report.ok, report.first_bad) == (False, 1)
    assert report.reason == "entry 1: names the unknown payload key 'k1'"


def test_a_wrong_secret_fails_every_digest() -> None:
    sealed, payloads = _chain(2)
    assert verify(sealed, payloads, AuditKey("k1", b"t" * 32)).first_bad == 1


def test_rotated_keys_verify_together_and_lookup_may_be_a_function() -> None:
    new_key = AuditKey("k2", b"n" * 32)
    pairs = [_change(1), _change(2, key=new_key)]
    sealed = seal(None, [e for e, _ in pairs])
    bodies = {p.entry_id: p.body for _, p in pairs}
    assert verify(sealed, bodies.get, [KEY, new_key]).ok
    assert not verify(sealed, bodies.get, [KEY]).ok


# --- erasure -----------------------------------------------------------------------


def test_erasure_after_the_entries_redacts_them() -> None:
    sealed, payloads = _chain(4)
    erasure = record_erasure(
        "a-900",
        T0 + timedelta(days=1),
        ANNA,
        ["a-001", "a-003"],
        record_kind="contact",
        record_id="c-1",
    )
    sealed += seal(sealed[-1], [erasure])
    for erased in erasure.erased:
        del payloads[erased]
    report = verify(sealed, payloads, KEY)
    assert report == VerifyReport(True, 5, redacted=(1, 3), head_hash=sealed[-1].hash)
    assert sealed[-1].entry.kind is EntryKind.ERASURE
    assert sealed[-1].entry.payload_digest is None


def test_erasure_sealed_before_the_entry_it_erases_also_redacts() -> None:
    late, body = _change(5)
    erasure = record_erasure("a-000", T0, JOB, [late.id], record_kind="contact", record_id="c-1")
    sealed = seal(None, [late, erasure])  # the erasure's earlier instant seals it first
    assert [s.entry.id for s in sealed] == ["a-000", late.id]
    assert verify(sealed, {}, KEY).redacted == (2,)
    # A payload still present after its erasure is checked like any other.
    assert verify(sealed, {body.entry_id: body.body}, KEY) == VerifyReport(
        True, 2, head_hash=sealed[-1].hash
    )


def test_an_erasure_does_not_cover_other_entries() -> None:
    sealed, payloads = _chain(3)
    sealed += seal(
        sealed[-1],
        [record_erasure("a-900", T0, ANNA, ["a-001"], record_kind="contact", record_id="c-1")],
    )
    del payloads["a-001"], payloads["a-002"]
    report = verify(sealed, payloads, KEY)
    assert (report.ok, report.first_bad, report.redacted) == (False, 2, (1,))


def test_an_inconsistent_entry_fails_even_with_a_valid_hash() -> None:
    sealed, payloads = _chain(2)
    odd = attrs.evolve(sealed[1].entry, payload_digest=None)
    sealed[1] = attrs.evolve(sealed[1], entry=odd, hash=entry_hash(2, odd, sealed[0].hash))
    report = verify(sealed, payloads, KEY)
    assert report.reason == "entry 2: a change entry must carry a payload digest and a key id"


# --- bad input ---------------------------------------------------------------------


def test_seal_refuses_bad_input() -> None:
    entry = _change(1)[0]
    with pytest.raises(ValidationError, match=r"entries\[1\]\.id: is given twice"):
        seal(None, [entry, entry])
    with pytest.raises(ValidationError, match=r"entries\[0\]: must be an AuditEntry"):
        seal(None, ["a-1"])  # type: ignore[list-item]
    with pytest.raises(ValidationError, match="last: must be a SealedEntry"):
        seal(entry, [])  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="erasure entry must name"):
        seal(
            None,
            [
                attrs.evolve(
                    entry, kind=EntryKind.ERASURE, payload_digest=None, key_id=None, fields=()
                )
            ],
        )


def test_verify_refuses_bad_arguments() -> None:
    sealed, payloads = _chain(1)
    with pytest.raises(ValidationError, match="payloads: must be a mapping or a function"):
        verify(sealed, 3, KEY)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="keys: must hold only AuditKey"):
        verify(sealed, payloads, [b"secret"])  # type: ignore[list-item]
    with pytest.raises(ValidationError, match=r"sealed\[0\]: must be a SealedEntry"):
        verify([sealed[0].entry], payloads, KEY)  # type: ignore[list-item]


def test_key_secret_is_never_shown() -> None:
    assert "sss" not in repr(KEY)
    with pytest.raises(ValidationError, match="secret: must be at least 16 bytes") as caught:
        AuditKey("k1", b"short-secret")
    assert "short" not in str(caught.value)


def test_entries_validate_their_fields() -> None:
    with pytest.raises(ValidationError, match="at: must be timezone-aware"):
        record_change("a-1", datetime(2024, 1, 1), ANNA, "x", "contact", "c-1", 1, (), KEY)
    with pytest.raises(ValidationError, match="record_kind: must match"):
        record_change("a-1", T0, ANNA, "x", "Contact", "c-1", 1, (), KEY)
    with pytest.raises(ValidationError, match=r"changes\[0\]: must be a Change"):
        record_change("a-1", T0, ANNA, "x", "contact", "c-1", 1, ["first_name"], KEY)  # type: ignore[list-item]
    with pytest.raises(ValidationError, match="erased: must name at least one entry"):
        record_erasure("a-2", T0, ANNA, [], record_kind="contact", record_id="c-1")
    with pytest.raises(ValidationError, match="erased: must be a list of entry ids"):
        record_erasure("a-2", T0, ANNA, "a-1", record_kind="contact", record_id="c-1")


def test_record_change_digests_the_payload_it_returns() -> None:
    entry, payload = _change(1)
    assert entry.fields == ("first_name", "title")
    assert entry.payload_digest == payload_digest(KEY, entry.id, payload.body)
    assert "Anna" not in repr(entry)
    assert json.loads(payload.body)[0] == {
        "field": "first_name",
        "before": None,
        "after": "Anna1",
        "personal": True,
    }


# --- properties --------------------------------------------------------------------


@st.composite
def chains(draw: st.DrawFn) -> tuple[list[SealedEntry], dict[str, str | None], list[int]]:
    """A chain of change and erasure entries sealed in batches, its payloads (erased ones
    removed) and the sequence numbers verify must report as redacted."""
    count = draw(st.integers(1, 10))
    entries: list[AuditEntry] = []
    payloads: dict[str, str | None] = {}
    for i in range(count):
        name = draw(st.text(min_size=0, max_size=8))
        entry, payload = record_change(
            f"a-{i:03}",
            T0 + timedelta(seconds=draw(st.integers(0, 50))),
            draw(st.sampled_from([ANNA, JOB])),
            "contact_changed",
            "contact",
            f"c-{draw(st.integers(1, 3))}",
            draw(st.integers(1, 9)),
            (Change("last_name", None, name, personal=True),),
            KEY,
        )
        entries.append(entry)
        payloads[entry.id] = payload.body
    erased = draw(st.lists(st.sampled_from([e.id for e in entries]), unique=True, max_size=count))
    groups = (
        draw(st.lists(st.lists(st.sampled_from(erased), min_size=1, unique=True), max_size=3))
        if erased
        else []
    )
    covered = {entry_id for group in groups for entry_id in group}
    for n, group in enumerate(groups):
        at = T0 + timedelta(seconds=draw(st.integers(0, 60)))
        entries.append(
            record_erasure(f"e-{n}", at, JOB, group, record_kind="contact", record_id="c-1")
        )
    for entry_id in covered:
        if draw(st.booleans()):
            del payloads[entry_id]
        else:
            payloads[entry_id] = None
    order = draw(st.permutations(entries))
    cuts = sorted(draw(st.lists(st.integers(0, len(order)), max_size=3)))
    sealed: list[SealedEntry] = []
    start = 0
    for cut in [*cuts, len(order)]:
        sealed += seal(sealed[-1] if sealed else None, order[start:cut])
        start = max(start, cut)
    redacted = sorted(s.sequence for s in sealed if s.entry.id in covered)
    return sealed, payloads, redacted


@settings(max_examples=150)
@given(chains())
def test_random_chains_with_erasures_verify(
    chain: tuple[list[SealedEntry], dict[str, str | None], list[int]],
) -> None:
    sealed, payloads, redacted = chain
    report = verify(sealed, payloads, KEY)
    assert report.ok, report.reason
    assert report.checked == len(sealed)
    assert report.redacted == tuple(redacted)


@settings(max_examples=200)
@given(chains(), st.data())
def test_any_single_mutation_is_detected_at_its_entry(
    chain: tuple[list[SealedEntry], dict[str, str | None], list[int]], data: st.DataObject
) -> None:
    sealed, payloads, _ = chain
    position = data.draw(st.integers(0, len(sealed) - 1))
    field = data.draw(st.sampled_from(ENVELOPE_FIELDS))
    sealed[position] = _mutate(sealed[position], field)
    report = verify(sealed, payloads, KEY)
    assert not report.ok
    assert report.first_bad == position + 1
    assert report.reason is not None
    assert report.reason.startswith(f"entry {position + 1}: ")
