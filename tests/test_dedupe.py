"""Duplicate detection: normalisation, similarity, blocking keys, clusters, survivors, bad input."""

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings, strategies as st

from crmkit.kernel.errors import ValidationError
from crmkit.kernel.events import Stamp
from crmkit.kernel.loading import Loaders
from crmkit.kernel.serialization import dumps, make_converter, structure
from crmkit.parties.account import Account
from crmkit.parties.contact import Contact
from crmkit.parties.dedupe import (
    MAX_KEYS,
    Candidate,
    DedupeConfig,
    DedupeResult,
    Match,
    Signal,
    blocking_keys,
    check,
    choose_survivor,
    find_duplicates,
    jaro_winkler,
    normalise_company,
    normalise_email,
    normalise_name,
    normalise_phone,
    phone_key,
    score,
    similarity,
)
from crmkit.parties.values import Email, Phone
from crmkit.testing._strategies_dedupe import dedupe_candidates, dedupe_clusters

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def cand(
    id: str,
    name: str = "Anna Berg",
    emails: tuple[str, ...] = (),
    phones: tuple[str, ...] = (),
    company: str | None = None,
    *,
    kind: str = "contact",
    days: int = 0,
    filled: int = 0,
) -> Candidate:
    return Candidate(
        id,
        kind,
        name,
        emails,
        phones,
        company,
        created_at=T0 + timedelta(days=days),
        filled=filled,
    )


# --- normalisation ---


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        (" Anna.Berg@Example.COM ", "anna.berg@example.com"),
        ("anna.berg+news@example.com", "anna.berg@example.com"),
        ("A.N.N.A.Berg+x@gmail.com", "annaberg@gmail.com"),
        ("annaberg@googlemail.com", "annaberg@gmail.com"),
        ("ＡＮＮＡ@example.com", "anna@example.com"),  # NFKC: full-width letters
        ("STRASSE@example.com", "strasse@example.com"),
    ],
)
def test_normalise_email(raw: str, key: str) -> None:
    assert normalise_email(raw) == key


@pytest.mark.parametrize(
    ("raw", "digits", "key"),
    [
        ("+49 (30) 1234-5678", "493012345678", "012345678"),
        ("030 12345678", "03012345678", "012345678"),
        ("0049 30 12345678", "00493012345678", "012345678"),
        ("＋４４ ２０ ７９４６ ０９５８", "442079460958", "079460958"),
    ],
)
def test_normalise_phone(raw: str, digits: str, key: str) -> None:
    assert normalise_phone(raw) == digits
    assert phone_key(raw) == key


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Smith, Anna", "anna smith"),
        ("  ANNA   SMITH ", "Anna Smith"),
        ("Zoë Müller", "zoe muller"),
        ("Seán O'Brien", "sean obrien"),
        ("Anna-Lena Groß", "groSS anna lena"),
    ],
)
def test_normalise_name_equal(a: str, b: str) -> None:
    assert normalise_name(a) == normalise_name(b)


def test_normalise_name_form() -> None:
    assert normalise_name("Smith,  Anna") == "anna smith"
    assert normalise_name("李 小龍") == "小龍 李"  # other scripts keep their letters


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("ACME GmbH", "Acme"),
        ("ACME GmbH & Co. KG", "acme inc."),
        ("The Acme Corporation", "ACME LLC"),
        ("Müller AG", "muller"),
    ],
)
def test_normalise_company_equal(a: str, b: str) -> None:
    assert normalise_company(a) == normalise_company(b)


def test_normalise_company_keeps_a_name_of_legal_words_only() -> None:
    assert normalise_company("The Company") == "company the"
    assert normalise_company("Acme Trading") != normalise_company("Acme")


def test_jaro_winkler_known_values() -> None:
    assert round(jaro_winkler("martha", "marhta"), 4) == 0.9611
    assert round(jaro_winkler("dixon", "dicksonx"), 4) == 0.8133
    assert round(jaro_winkler("dwayne", "duane"), 4) == 0.84
    assert jaro_winkler("abc", "abc") == 1.0
    assert jaro_winkler("abc", "xyz") == 0.0
    assert jaro_winkler("", "abc") == 0.0


@settings(max_examples=200)
@given(st.text(max_size=12), st.text(max_size=12))
def test_jaro_winkler_is_symmetric_and_bounded(a: str, b: str) -> None:
    # Jaro is symmetric; Winkler's prefix boost too.
    assert jaro_winkler(a, b) == pytest.approx(jaro_winkler(b, a))
    assert 0.0 <= jaro_winkler(a, b) <= 1.0


# --- scoring ---


def test_exact_email_is_strong_evidence() -> None:
    a = cand("a", "Anna Berg", ("Anna.Berg+web@gmail.com",))
    b = cand("b", "Berg, Anna", ("annaberg@googlemail.com",), kind="lead")
    match = similarity(a, b)
    assert match is not None
    assert match.ids == ("a", "b")
    assert (match.a_kind, match.b_kind) == ("contact", "lead")
    assert match.score >= Decimal("0.95")
    assert [r.signal for r in match.reasons] == [Signal.EMAIL, Signal.NAME]


def test_email_alone_without_names_matches() -> None:
    match = similarity(
        cand("a", "", ("x@acme.example",)), cand("b", "", ("X@ACME.example", "y@z.example"))
    )
    assert match is not None
    assert match.score == Decimal("0.900")


def test_shared_mailbox_with_other_names_is_no_match() -> None:
    a = cand("a", "Anna Berg", ("info@acme.example",))
    b = cand("b", "Tom Fischer", ("info@acme.example",))
    assert similarity(a, b) is None
    assert score(a, b).score < Decimal("0.5")


def test_name_alone_never_matches() -> None:
    a, b = cand("a", "Anna Berg"), cand("b", "Anna Berg")
    assert similarity(a, b) is None
    assert score(a, b).score == Decimal("0.800")


def test_name_with_phone_tolerates_a_typo() -> None:
    a = cand("a", "Anna Bergmann", phones=("+49 30 12345678",))
    b = cand("b", "Anna Bergman", phones=("030 12345678",))
    match = similarity(a, b)
    assert match is not None
    name = next(r for r in match.reasons if r.signal is Signal.NAME)
    assert Decimal("0.95") < name.similarity < 1


def test_a_typo_that_reorders_tokens_is_still_close() -> None:
    # "abel kahn" sorts as is; "zbel kahn" sorts as "kahn zbel".
    a = cand("a", "Abel Kahn", phones=("+4930123456789",))
    b = cand("b", "Zbel Kahn", phones=("+4930123456789",))
    assert similarity(a, b) is not None


def test_exact_name_and_company_match_but_a_typo_does_not() -> None:
    a = cand("a", "Anna Berg", company="ACME GmbH")
    assert similarity(a, cand("b", "berg, anna", company="Acme Inc.")) is not None
    assert similarity(a, cand("c", "Anna Barg", company="Acme")) is None


def test_threshold_is_configurable() -> None:
    a = cand("a", "", phones=("+49 30 12345678",))
    b = cand("b", "", phones=("030 12345678",))
    assert similarity(a, b) is None  # a phone alone scores 0.75
    found = similarity(a, b, DedupeConfig(threshold=Decimal("0.7"), name_weight=Decimal("0.6")))
    assert found is not None
    assert found.score == Decimal("0.750")


@settings(max_examples=150)
@given(dedupe_candidates(), dedupe_candidates())
def test_score_is_symmetric_and_in_unit_range(a: Candidate, b: Candidate) -> None:
    ab, ba = score(a, b), score(b, a)
    assert Decimal(0) <= ab.score <= 1
    assert ab.score == ba.score
    assert ab.score.as_tuple().exponent == -3
    assert {r.signal for r in ab.reasons} == {r.signal for r in ba.reasons}


@settings(max_examples=100)
@given(dedupe_candidates())
def test_identical_records_score_one(a: Candidate) -> None:
    twin = Candidate(
        a.id + "x", a.kind, a.name, a.emails, a.phones, a.company, created_at=a.created_at
    )
    if normalise_name(a.name) and (a.emails or a.phones or a.company):
        assert score(a, twin).score == 1
    else:
        assert score(a, twin).score < 1


# --- blocking keys ---


def test_blocking_keys_of_a_person() -> None:
    a = cand("a", "Anna Bergmann", ("Anna.Berg+x@gmail.com",), ("+49 30 12345678",), "ACME GmbH")
    assert blocking_keys(a) == (
        "e:annaberg@gmail.com",
        "n:acme:anna",
        "n:acme:bergmann",
        "p:012345678",
    )


def test_the_first_two_distinct_emails_and_phones_are_keys() -> None:
    a = cand(
        "a",
        emails=("z@x.example", "Z@X.example", "b@x.example", "a@x.example"),
        phones=("+49 30 12345678", "030 12345678", "+1 415 555 0100", "+1 415 555 0199"),
    )
    assert blocking_keys(a) == ("e:b@x.example", "e:z@x.example", "p:012345678", "p:155550100")


def test_punctuation_is_no_company() -> None:
    a, b = cand("a", "Anna Berg", company="--"), cand("b", "Anna Berg", company="??")
    assert Signal.COMPANY not in {r.signal for r in score(a, b).reasons}
    assert blocking_keys(a) == ()


def test_a_person_without_company_has_no_name_keys() -> None:
    assert blocking_keys(cand("a", "Anna Berg", ("a@b.example",))) == ("e:a@b.example",)


def test_blocking_keys_of_an_account() -> None:
    account, _ = Account.create(
        "acc-1",
        "ACME GmbH",
        Stamp(T0, "u-1"),
        emails=(Email("info@acme.example"),),
        phones=(Phone("+49 30 5550000"),),
        website="https://acme.example",
    )
    candidate = Candidate.of_account(account)
    assert (candidate.kind, candidate.company, candidate.filled) == ("account", "ACME GmbH", 3)
    assert blocking_keys(candidate) == ("c:acme", "e:info@acme.example", "p:305550000")


def test_a_one_character_typo_keeps_a_shared_name_key() -> None:
    a = cand("a", "Anna Bergmann", company="ACME")
    for typo in ("Anna Bergman", "Ana Bergmann", "Xnna Bergmann", "Anna Xergmann"):
        assert set(blocking_keys(a)) & set(blocking_keys(cand("b", typo, company="Acme GmbH")))


@settings(max_examples=150)
@given(dedupe_candidates())
def test_blocking_keys_are_few_short_and_sorted(a: Candidate) -> None:
    keys = blocking_keys(a)
    assert len(keys) <= MAX_KEYS
    assert list(keys) == sorted(set(keys))
    assert all(len(key) <= 260 for key in keys)


# --- find_duplicates, clusters, check ---


def people() -> list[Candidate]:
    return [
        cand("c1", "Anna Berg", ("anna.berg@gmail.com",), ("+49 30 12345678",), "ACME GmbH"),
        cand("l1", "BERG, ANNA", ("AnnaBerg+web@googlemail.com",), kind="lead"),
        cand("l2", "Anna Bergg", (), ("030 12345678",), "Acme", kind="lead"),
        cand("c2", "Tom Fischer", ("tom@globex.example",), ("+1 415 555 0100",), "Globex"),
        cand("c3", "Tom Fisher", ("t.fisher@other.example",)),
        cand("c4", "Li Wu", ("li@wu.example",)),
    ]


def test_find_duplicates_pairs_clusters_and_stats() -> None:
    result = find_duplicates(people())
    pairs = {m.ids for m in result.matches}
    assert pairs == {("c1", "l1"), ("c1", "l2")}
    assert result.clusters == (("c1", "l1", "l2"),)
    assert result.stats.records == 6
    assert result.stats.comparisons >= 2
    assert result.stats.skipped_blocks == 0
    scores = [m.score for m in result.matches]
    assert scores == sorted(scores, reverse=True)


def test_find_duplicates_does_not_depend_on_input_order() -> None:
    assert find_duplicates(people()) == find_duplicates(list(reversed(people())))


def test_large_blocks_are_skipped_and_counted() -> None:
    crowd = [cand(f"p{i}", f"Person {i}", ("info@acme.example",)) for i in range(5)]
    result = find_duplicates(crowd, DedupeConfig(max_block=4))
    assert (result.stats.skipped_blocks, result.stats.skipped_members) == (1, 5)
    assert result.stats.comparisons == 0
    assert result.matches == ()


def test_check_returns_matches_best_first() -> None:
    new = cand("new", "Anna Berg", ("anna.berg@gmail.com",), ("+49 30 12345678",), kind="lead")
    found = check(new, [*people(), new])
    assert [m.ids for m in found] == [("c1", "new"), ("l1", "new"), ("l2", "new")]
    assert found[0].score >= found[1].score >= found[2].score


def test_contact_view() -> None:
    contact, _ = Contact.create(
        "c-9",
        Stamp(T0, "u-1"),
        first_name="Anna",
        last_name="Berg",
        emails=(Email("anna@acme.example"),),
        phones=(Phone("+49 30 12345678"),),
        title="CFO",
    )
    candidate = Candidate.of_contact(contact, company="ACME GmbH")
    assert candidate.name == "Anna Berg"
    assert candidate.emails == ("anna@acme.example",)
    assert candidate.phones == ("+493012345678",)
    assert (candidate.kind, candidate.company, candidate.filled) == ("contact", "ACME GmbH", 4)
    assert candidate.created_at == T0


# --- survivor ---


def test_survivor_rule() -> None:
    most = cand("z", filled=5, days=9)
    older = cand("y", filled=3, days=1)
    oldest_same_fill = cand("x", filled=3, days=0)
    assert choose_survivor([older, most, oldest_same_fill]) == most
    assert choose_survivor([older, oldest_same_fill]) == oldest_same_fill
    assert choose_survivor([cand("b"), cand("a")]).id == "a"


@settings(max_examples=100)
@given(dedupe_clusters(), st.randoms(use_true_random=False))
def test_survivor_is_deterministic_and_order_independent(cluster: list[Candidate], rnd) -> None:  # type: ignore[no-untyped-def]
    shuffled = list(cluster)
    rnd.shuffle(shuffled)
    chosen = choose_survivor(cluster)
    assert choose_survivor(shuffled) == chosen
    assert all(chosen.filled >= c.filled for c in cluster)


# --- bad input ---


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("id", {"id": ""}),
        ("id", {"id": 7}),
        ("kind", {"kind": "Lead!"}),
        ("name", {"name": None}),
        ("emails", {"emails": ("not-an-address",)}),
        ("emails", {"emails": "anna@acme.example"}),
        ("phones", {"phones": ("12",)}),
        ("company", {"company": 3}),
        ("created_at", {"created_at": datetime(2026, 1, 1)}),
        ("filled", {"filled": -1}),
        ("filled", {"filled": True}),
    ],
)
def test_bad_candidate_raises_validation_error(field: str, kwargs: dict[str, object]) -> None:
    base: dict[str, object] = {
        "id": "a",
        "kind": "lead",
        "name": "Anna",
        "emails": (),
        "phones": (),
        "company": None,
        "created_at": T0,
        "filled": 0,
    }
    base.update(kwargs)
    with pytest.raises(ValidationError) as info:
        Candidate(**base)  # type: ignore[arg-type]
    assert info.value.field == field


def test_personal_values_are_not_shown_in_errors() -> None:
    with pytest.raises(ValidationError) as info:
        cand("a", emails=("anna.berg-secret",))
    assert "secret" not in str(info.value)


@pytest.mark.parametrize(
    "call",
    [
        lambda: find_duplicates([cand("a"), "b"]),  # type: ignore[list-item]
        lambda: find_duplicates("ab"),  # type: ignore[arg-type]
        lambda: find_duplicates([cand("a"), cand("a")]),
        lambda: find_duplicates([], config="strict"),  # type: ignore[arg-type]
        lambda: check("a", []),  # type: ignore[arg-type]
        lambda: choose_survivor([]),
        lambda: similarity(cand("a"), None),  # type: ignore[arg-type]
        lambda: score(cand("a"), cand("b"), "strict"),  # type: ignore[arg-type]
        lambda: blocking_keys({"id": "a"}),  # type: ignore[arg-type]
        lambda: Candidate.of_contact("c-1"),  # type: ignore[arg-type]
        lambda: Candidate.of_account(None),  # type: ignore[arg-type]
        lambda: DedupeConfig(threshold=Decimal("1.5")),
        lambda: DedupeConfig(threshold=0.85),  # type: ignore[arg-type]
        lambda: DedupeConfig(name_weight=Decimal("0.9")),
        lambda: DedupeConfig(max_block=1),
        lambda: normalise_email("no-at-sign"),
        lambda: normalise_phone(None),  # type: ignore[arg-type]
        lambda: normalise_name(b"anna"),  # type: ignore[arg-type]
    ],
)
def test_bad_input_raises_validation_error(call) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError):
        call()


# --- serialisation of results ---


def test_match_and_result_round_trip() -> None:
    conv = make_converter()
    result = find_duplicates(people())
    for obj, cls in ((result.matches[0], Match), (result, DedupeResult)):
        data = conv.unstructure(obj)
        assert structure(conv, data, cls) == obj
        assert Loaders().load(cls, json.loads(dumps(data))) == obj


@settings(max_examples=60)
@given(dedupe_clusters(max_size=8))
def test_blocking_loses_no_pair_that_similarity_finds(records: list[Candidate]) -> None:
    result = find_duplicates(records)
    direct = {
        found.ids: found
        for i, a in enumerate(records)
        for b in records[i + 1 :]
        if (found := similarity(a, b)) is not None
    }
    assert {m.ids: m for m in result.matches} == direct
    assert result == find_duplicates(list(reversed(records)))
    in_clusters = [id for cluster in result.clusters for id in cluster]
    assert sorted(in_clusters) == sorted({id for pair in direct for id in pair})
