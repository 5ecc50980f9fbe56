"""Email threading: message-id parsing, InboundEmail from headers, thread resolution."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from hypothesis import given, settings, strategies as st

from crmkit.activities.activity import RecordRef
from crmkit.adapters.smtp import message_id as smtp_message_id
from crmkit.interactions.threading import (
    NOT_FOUND,
    TICKET_TAG,
    InboundEmail,
    Resolution,
    ResolvedBy,
    from_headers,
    is_forward,
    message_ids,
    resolve,
    thread_subject,
    ticket_tags,
)
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.loading import Loaders
from crmkit.kernel.serialization import dumps, make_converter, structure

CASE = RecordRef("case", "C-12345")
OPPORTUNITY = RecordRef("opportunity", "O-7")
# The acknowledgement crmkit sent for case C-12345, with the id its SMTP channel builds.
ACK = smtp_message_id("case-C-12345-ack", "crm.example")


def lookup(table: dict[str, RecordRef]) -> Callable[[str], RecordRef | None]:
    """A ``known`` callable that records every key it was asked about."""
    asked: list[str] = []

    def known(key: str) -> RecordRef | None:
        asked.append(key)
        return table.get(key)

    known.asked = asked  # type: ignore[attr-defined]
    return known


# --- real-world header shapes ---------------------------------------------------------------

GMAIL_REPLY = {
    "Delivered-To": "support@crm.example",
    "Received": "by 2002:a05:6402:1234 with SMTP id x; Tue, 3 Mar 2026 01:15:03 -0800 (PST)",
    "MIME-Version": "1.0",
    "References": ACK,
    "In-Reply-To": ACK,
    "From": "Ann Berg <Ann.Berg@GMAIL.com>",
    "Date": "Tue, 3 Mar 2026 10:15:02 +0100",
    "Message-ID": "<CAJx1=b7Kq+QvW-3_XyZ0@mail.gmail.com>",
    "Subject": "Re: [Case #C-12345] Printer jams on every page",
    "To": "Acme Support <support@crm.example>",
    "Content-Type": 'multipart/alternative; boundary="000000000000a1b2c3"',
}

OUTLOOK_REPLY = (
    b"Received: from AM0PR07MB1234.eurprd07.prod.outlook.com by mx.crm.example;\r\n"
    b" Wed, 4 Mar 2026 08:00:01 +0000\r\n"
    b"From: =?iso-8859-1?Q?J=FCrgen_M=FCller?= <juergen@Firma.DE>\r\n"
    b'To: "support" <support@crm.example>\r\n'
    b'CC: Ann Berg <ann.berg@gmail.com>, "Sales" <sales@crm.example>\r\n'
    b"Subject: =?iso-8859-1?Q?AW:_[Case_#C-12345]_Drucker_st=F6rt?=\r\n"
    b"Thread-Topic: [Case #C-12345] Drucker =?iso-8859-1?Q?st=F6rt?=\r\n"
    b"Thread-Index: AQHZ5q8xR3JhbmQ0Ymx1ZWJveA==\r\n"
    b"Date: Wed, 4 Mar 2026 07:59:58 +0000\r\n"
    b"Message-ID:\r\n"
    b" <AM0PR07MB12340A1B2C3D4E5F6@AM0PR07MB1234.eurprd07.prod.outlook.com>\r\n"
    b"References: " + ACK.encode() + b"\r\n"
    b" <CAJx1=b7Kq+QvW-3_XyZ0@mail.gmail.com>\r\n"
    b"In-Reply-To: <CAJx1=b7Kq+QvW-3_XyZ0@mail.gmail.com>\r\n"
    b"Content-Language: de-DE\r\n"
    b"MIME-Version: 1.0\r\n"
    b"\r\n"
    b"Hallo\r\n"
)

# Outlook replying to a message whose ids it lost: only Thread-Index/Thread-Topic remain.
OUTLOOK_THREAD_INDEX_ONLY = (
    b"From: Juergen <juergen@firma.de>\r\n"
    b"To: support@crm.example\r\n"
    b"Subject: RE: [Case #C-12345] Drucker\r\n"
    b"Thread-Topic: [Case #C-12345] Drucker\r\n"
    b"Thread-Index: AdnN1l3cV2hhdGV2ZXIgaXQgaXM=\r\n"
    b"Message-ID: <DB9PR01MB0001@DB9PR01MB0001.eurprd01.prod.outlook.com>\r\n"
    b"Date: Thu, 5 Mar 2026 12:00:00 +0000\r\n"
    b"\r\n"
    b"body\r\n"
)

TWENTY = [f"<m{n:02d}.{n * 7919:x}@list{n % 3}.example.org>" for n in range(20)]


def folded_references(ids: list[str]) -> bytes:
    """A References header folded the way mailing-list software folds it: tab, then an id."""
    return b"References: " + b"\r\n\t".join(item.encode() for item in ids) + b"\r\n"


def test_gmail_reply_resolves_by_in_reply_to() -> None:
    email = from_headers(GMAIL_REPLY)
    assert email.message_id == "<CAJx1=b7Kq+QvW-3_XyZ0@mail.gmail.com>"
    assert email.in_reply_to == (ACK,)
    assert email.references == (ACK,)
    assert email.from_address == "Ann.Berg@gmail.com"  # domain lower-cased, local part kept
    assert email.to_addresses == ("support@crm.example",)
    # The top-most Received header wins over Date: 01:15:03 -0800 is 09:15:03 UTC.
    assert email.received_at == datetime(2026, 3, 3, 9, 15, 3, tzinfo=UTC)
    known = lookup({ACK: CASE})
    assert resolve(email, known) == Resolution(CASE, ResolvedBy.IN_REPLY_TO, ACK)
    assert known.asked == [ACK]  # type: ignore[attr-defined]


def test_outlook_reply_from_parsed_bytes() -> None:
    message = message_from_bytes(OUTLOOK_REPLY, policy=policy.default)
    email = from_headers(message)
    assert email.message_id == (
        "<AM0PR07MB12340A1B2C3D4E5F6@AM0PR07MB1234.eurprd07.prod.outlook.com>"
    )
    assert email.subject == "AW: [Case #C-12345] Drucker stört"
    assert email.from_address == "juergen@firma.de"
    assert email.to_addresses == (
        "support@crm.example",
        "ann.berg@gmail.com",
        "sales@crm.example",
    )
    assert email.references == (ACK, "<CAJx1=b7Kq+QvW-3_XyZ0@mail.gmail.com>")
    assert email.received_at == datetime(2026, 3, 4, 8, 0, 1, tzinfo=UTC)
    # The Gmail message is not known, so In-Reply-To misses; References, newest first, then hits.
    known = lookup({ACK: CASE})
    assert resolve(email, known) == Resolution(CASE, ResolvedBy.REFERENCES, ACK)
    assert known.asked == ["<CAJx1=b7Kq+QvW-3_XyZ0@mail.gmail.com>", ACK]  # type: ignore[attr-defined]


def test_compat32_message_gives_the_same_email() -> None:
    modern = from_headers(message_from_bytes(OUTLOOK_REPLY, policy=policy.default))
    legacy = from_headers(message_from_bytes(OUTLOOK_REPLY))
    assert legacy == modern
    assert legacy.subject == modern.subject


def test_thread_index_only_reply_falls_back_to_the_subject_ticket_tag() -> None:
    email = from_headers(message_from_bytes(OUTLOOK_THREAD_INDEX_ONLY, policy=policy.default))
    assert email.in_reply_to == ()
    assert email.references == ()
    known = lookup({"C-12345": CASE})
    assert resolve(email, known) == Resolution(CASE, ResolvedBy.SUBJECT, "C-12345")
    assert known.asked == ["C-12345"]  # type: ignore[attr-defined]
    assert resolve(email, known, by_subject=False) == NOT_FOUND


def test_twenty_folded_references_newest_known_wins() -> None:
    raw = (
        b"Message-ID: <reply@x.example>\r\nSubject: Re: thread\r\n"
        + folded_references(TWENTY)
        + b"\r\nbody\r\n"
    )
    email = from_headers(message_from_bytes(raw, policy=policy.default))
    assert email.references == tuple(TWENTY)
    assert email.in_reply_to == ()
    known = lookup({TWENTY[3]: OPPORTUNITY, TWENTY[15]: CASE})
    # Walked from the last id back: 19, 18, 17, 16 miss, 15 hits.
    assert resolve(email, known) == Resolution(CASE, ResolvedBy.REFERENCES, TWENTY[15])
    assert known.asked == TWENTY[19:14:-1]  # type: ignore[attr-defined]


def test_missing_in_reply_to_but_references_present() -> None:
    email = from_headers({"References": f"<root@a.example> {ACK}", "Subject": "Re: hi"})
    assert resolve(email, {ACK: CASE}.get) == Resolution(CASE, ResolvedBy.REFERENCES, ACK)


def test_in_reply_to_beats_references() -> None:
    email = InboundEmail(in_reply_to="<parent@a.example>", references=f"{ACK} <parent@a.example>")
    known = {ACK: CASE, "<parent@a.example>": OPPORTUNITY}.get
    assert resolve(email, known) == Resolution(
        OPPORTUNITY, ResolvedBy.IN_REPLY_TO, "<parent@a.example>"
    )


def test_forward_without_in_reply_to_starts_a_new_thread() -> None:
    # Gmail keeps References on a forward; the forward must still not join the old thread.
    email = from_headers({"Subject": "Fwd: Printer jams", "References": ACK})
    assert is_forward(email.subject)
    known = lookup({ACK: CASE})
    assert resolve(email, known) == NOT_FOUND
    assert known.asked == []  # type: ignore[attr-defined]


def test_forward_with_a_ticket_tag_joins_by_subject() -> None:
    email = from_headers({"Subject": "WG: [Case #C-12345] Printer", "References": ACK})
    found = resolve(email, {ACK: OPPORTUNITY, "C-12345": CASE}.get)
    assert found == Resolution(CASE, ResolvedBy.SUBJECT, "C-12345")


def test_forward_with_in_reply_to_is_a_reply() -> None:
    email = from_headers({"Subject": "Fw: Printer", "In-Reply-To": ACK})
    assert resolve(email, {ACK: CASE}.get).by is ResolvedBy.IN_REPLY_TO


def test_ids_without_angle_brackets() -> None:
    email = from_headers({"In-Reply-To": ACK.strip("<>"), "Message-ID": "abc.123@host.example"})
    assert email.in_reply_to == (ACK,)
    assert email.message_id == "<abc.123@host.example>"
    assert resolve(email, {ACK: CASE}.get).record == CASE


def test_duplicate_ids_are_dropped_keeping_the_first() -> None:
    header = f"<a@x.example> {ACK} <a@x.example>\r\n {ACK} <b@x.example>"
    assert message_ids(header) == ("<a@x.example>", ACK, "<b@x.example>")


def test_own_message_id_is_never_looked_up() -> None:
    email = InboundEmail(message_id="<self@x.example>", references="<self@x.example> <p@x.example>")
    known = lookup({"<self@x.example>": CASE})
    assert resolve(email, known) == NOT_FOUND
    assert known.asked == ["<p@x.example>"]  # type: ignore[attr-defined]


def test_several_ticket_tags_are_tried_in_order() -> None:
    email = InboundEmail(subject="Re: [#77] Fwd: [Case #C-12345] x")
    known = lookup({"C-12345": CASE})
    assert resolve(email, known) == Resolution(CASE, ResolvedBy.SUBJECT, "C-12345")
    assert known.asked == ["77", "C-12345"]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("<a@b.example>", ("<a@b.example>",)),
        ("  <a@b.example>  ", ("<a@b.example>",)),
        (
            "<a@b.example>,<c@d.example>;<e@f.example>",
            ("<a@b.example>", "<c@d.example>", "<e@f.example>"),
        ),
        ("<a@b.example> (Ann's message of Tue) <c@d.example>", ("<a@b.example>", "<c@d.example>")),
        ("(nested (comment <x@y.example>) \\) still) <a@b.example>", ("<a@b.example>",)),
        ('Your message of "Tue <x@y.example>" <a@b.example>', ("<a@b.example>",)),
        ("<a@\r\n b.example>", ("<a@b.example>",)),  # folded inside the brackets
        ("<<a@b.example>>", ("<a@b.example>",)),
        ("<a@b.example", ("<a@b.example>",)),  # never closed: read as bare text
        ("(unclosed <a@b.example>", ("<a@b.example>",)),
        ("a@b.example, c@d.example", ("<a@b.example>", "<c@d.example>")),
        ("Ann@Example.COM", ("<Ann@Example.COM>",)),  # case is kept: ids compare exactly
        ("prose about joe@x.example <a@b.example>", ("<a@b.example>",)),  # brackets win
        ("garbage only", ()),
        ("<> < >", ()),
        ("<a\x00b@c.example> <ok@c.example>", ("<ok@c.example>",)),
        (f"<{'x' * 990}@y.example>", ()),  # longer than ID_MAX
        ("<1234567890>", ("<1234567890>",)),  # bracketed ids need no @
        ("", ()),
    ],
)
def test_message_ids_is_liberal(header: str, expected: tuple[str, ...]) -> None:
    assert message_ids(header) == expected


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from('<>()"\\@ ,;\r\n\tab.x\x00é'), max_size=60))
def test_message_ids_never_fails_and_is_a_fixed_point(header: str) -> None:
    ids = message_ids(header)
    assert all(item.startswith("<") and item.endswith(">") for item in ids)
    assert len(set(ids)) == len(ids)
    assert message_ids(" ".join(ids)) == ids


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Re: Invoice", "Invoice"),
        ("RE: Fwd: re: Invoice", "Invoice"),
        ("AW: WG: SV: Invoice", "Invoice"),
        ("Re[2]: Re(3): Re^4: Invoice", "Invoice"),
        ("Re : Facture", "Facture"),
        ("FW:Invoice", "Invoice"),
        ("Re：回复", "回复"),
        ("  Invoice   for\tMarch  ", "Invoice for March"),
        ("Regarding: Invoice", "Regarding: Invoice"),  # only whole prefixes
        ("Invoice Re: 42", "Invoice Re: 42"),  # only leading prefixes
        ("Re:", ""),
    ],
)
def test_thread_subject(subject: str, expected: str) -> None:
    assert thread_subject(subject) == expected


@pytest.mark.parametrize(
    ("subject", "forward"),
    [("Fwd: x", True), ("FW: x", True), ("WG: x", True), ("Re: Fwd: x", False), ("x", False)],
)
def test_is_forward(subject: str, forward: bool) -> None:
    assert is_forward(subject) is forward


@pytest.mark.parametrize(
    ("subject", "tags"),
    [
        ("[Case #C-12345] Printer", ("C-12345",)),
        ("Re: [#12345]", ("12345",)),
        ("[ Ticket # T-9 ] x", ("T-9",)),
        ("[Acme Support #2026/04.1] x", ("2026/04.1",)),
        ("[ext] [#] [Case C-1] #5", ()),
        ("[Case #C-1] and [Case #C-1]", ("C-1",)),
    ],
)
def test_ticket_tags(subject: str, tags: tuple[str, ...]) -> None:
    assert ticket_tags(subject) == tags
    assert (TICKET_TAG.search(subject) is not None) is bool(tags)


def test_subject_decoding_and_received_fallbacks() -> None:
    assert from_headers({"Subject": "Re: Café\r\n  au lait"}).subject == "Re: Café au lait"
    message = EmailMessage()
    message["Subject"] = "=?utf-8?b?UmU6IENhZsOp?="
    message["Date"] = "Tue, 3 Mar 2026 10:00:00 -0000"  # -0000: UTC, zone unknown
    email = from_headers(message)
    assert email.subject == "Re: Café"
    assert email.received_at == datetime(2026, 3, 3, 10, tzinfo=UTC)
    given_at = datetime(2026, 3, 3, 11, tzinfo=timezone(timedelta(hours=2)))
    assert from_headers(message, received_at=given_at).received_at == given_at
    assert from_headers({"Date": "not a date"}).received_at is None


def test_undecodable_bytes_and_odd_headers_do_not_stop_threading() -> None:
    raw = (
        b"Subject: Re: caf\xe9 \x01 =?bogus-charset?q?x?=\r\n"
        b"From: not an address\r\n"
        b"To: ok@x.example, , <>, broken@\r\n"
        b"In-Reply-To: " + ACK.encode() + b"\r\n\r\n"
    )
    email = from_headers(message_from_bytes(raw, policy=policy.default))
    assert email.subject.startswith("Re: caf\ufffd")
    assert email.from_address is None
    assert email.to_addresses == ("ok@x.example",)
    assert resolve(email, {ACK: CASE}.get).record == CASE


def test_header_names_are_case_insensitive_and_first_wins() -> None:
    email = from_headers({"message-id": "<a@x.example>", "MESSAGE-ID": "<b@x.example>"})
    assert email.message_id == "<a@x.example>"


def test_long_subject_is_cut() -> None:
    email = from_headers({"Subject": "x" * 2000})
    assert len(email.subject) == 998


def test_serialization_round_trip() -> None:
    conv = make_converter()
    email = from_headers(GMAIL_REPLY)
    found = Resolution(CASE, ResolvedBy.REFERENCES, ACK)
    for value, cls in ((email, InboundEmail), (found, Resolution), (NOT_FOUND, Resolution)):
        data = conv.unstructure(value)
        assert structure(conv, data, cls) == value
        assert Loaders().load(cls, json.loads(dumps(data))) == value


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: message_ids(None), "header_value"),  # type: ignore[arg-type]
        (lambda: message_ids(b"<a@b>", field="References"), "References"),  # type: ignore[arg-type]
        (lambda: from_headers(["Subject: x"]), "headers"),  # type: ignore[arg-type]
        (lambda: from_headers({"Subject": 5}), "headers.Subject"),  # type: ignore[dict-item]
        (lambda: from_headers({5: "x"}), "headers"),  # type: ignore[dict-item]
        (lambda: from_headers({}, received_at=datetime(2026, 1, 1)), "received_at"),
        (lambda: InboundEmail(message_id="<a@b> <c@d>"), "message_id"),
        (lambda: InboundEmail(message_id="garbage"), "message_id"),
        (lambda: InboundEmail(in_reply_to=[5]), "in_reply_to[0]"),
        (lambda: InboundEmail(references=5), "references"),
        (lambda: InboundEmail(subject="a\nb"), "subject"),
        (lambda: InboundEmail(from_address="nobody"), "from_address"),
        (lambda: InboundEmail(to_addresses="a@b.example"), "to_addresses"),
        (lambda: InboundEmail(to_addresses=["a b@c"]), "to_addresses[0]"),
        (lambda: InboundEmail(received_at=datetime(2026, 1, 1)), "received_at"),
        (lambda: thread_subject(None), "subject"),  # type: ignore[arg-type]
        (lambda: ticket_tags(3), "subject"),  # type: ignore[arg-type]
        (lambda: resolve("email", {}.get), "email"),  # type: ignore[arg-type]
        (lambda: resolve(InboundEmail(), None), "known"),  # type: ignore[arg-type]
        (lambda: resolve(InboundEmail(in_reply_to="<a@b>"), lambda key: "case"), "known"),  # type: ignore[arg-type, return-value]
        (lambda: Resolution(CASE), "by"),
        (lambda: Resolution(CASE, "guess", "x"), "by"),
        (lambda: Resolution("case", ResolvedBy.SUBJECT, "x"), "record"),  # type: ignore[arg-type]
    ],
)
def test_bad_input_names_the_field(call: Callable[[], object], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        call()
    assert caught.value.field == field


def test_personal_values_stay_out_of_errors() -> None:
    with pytest.raises(ValidationError) as caught:
        InboundEmail(from_address="ann berg")
    assert "ann" not in str(caught.value)
    assert "ann" not in repr(InboundEmail(subject="ann's order", from_address="ann@x.example"))
