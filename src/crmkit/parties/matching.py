"""Duplicate matching: normalisation, Jaro-Winkler similarity, and the comparable `Candidate`.

Scoring a pair lives in `crmkit.parties.scoring`; blocking, clustering and the
survivor rule in `crmkit.parties.dedupe`, which re-exports everything public
here. See docs/dedupe.md for the rules in prose.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from decimal import Decimal
from typing import Final

import attrs

from crmkit.kernel.checks import aware, items
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.events import PERSONAL
from crmkit.kernel.ids import check_id
from crmkit.kernel.text import clean_line, clean_token
from crmkit.parties.account import Account
from crmkit.parties.contact import Contact

# fmt: off
LEGAL_SUFFIXES: Final = frozenset((
    "ab", "ag", "aps", "as", "asa", "bv", "co", "company", "corp", "corporation", "ev",
    "gmbh", "inc", "incorporated", "kg", "kgaa", "kk", "limited", "llc", "llp", "lp", "ltd",
    "mbh", "nv", "ohg", "oy", "plc", "pte", "pty", "sa", "sarl", "sas", "se", "spa", "sro",
    "srl", "the", "ug",
))
# fmt: on
"""Tokens that `normalise_company` drops (legal forms and filler), after punctuation is removed."""

GMAIL_DOMAINS: Final = frozenset({"gmail.com", "googlemail.com"})
"""Domains whose local part ignores dots; both are keyed as ``gmail.com``."""

PHONE_KEY_DIGITS: Final = 9
"""A phone's key is its last 9 digits, so ``+49 30 1234567`` and ``030 1234567`` agree."""

_NOT_DIGITS = re.compile("[^0-9]+")
_COMBINING = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
_PUNCTUATION = re.compile(r"[\W_]+")
_APOSTROPHES = str.maketrans("", "", "'\u2019`\u00b4")
_SCORE = Decimal("0.001")
_ONE = Decimal(1)


def normalise_email(text: str) -> str:
    """An email address as compared: NFKC, case-folded, trimmed, without a ``+tag``.

    Gmail ignores dots in the local part, so they are dropped there (and
    ``googlemail.com`` becomes ``gmail.com``).

    >>> normalise_email(" Anna.Berg+news@GoogleMail.com ")
    'annaberg@gmail.com'
    >>> normalise_email("Anna.Berg+crm@acme.example")
    'anna.berg@acme.example'
    """
    if not isinstance(text, str):
        raise ValidationError("email", "must be a string", text, personal=True)
    folded = unicodedata.normalize("NFKC", text).casefold().strip()
    local, at, domain = folded.rpartition("@")
    local = local.partition("+")[0]
    if not at or not local or not domain:
        raise ValidationError("email", "must be an email address (local@domain)", personal=True)
    if domain in GMAIL_DOMAINS:
        return f"{local.replace('.', '')}@gmail.com"
    return f"{local}@{domain}"


def normalise_phone(text: str) -> str:
    """A phone number's digits only (after NFKC, so full-width digits count).

    >>> normalise_phone("+49 (30) 1234-567")
    '49301234567'
    """
    if not isinstance(text, str):
        raise ValidationError("phone", "must be a string", text, personal=True)
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    digits = _NOT_DIGITS.sub("", text)
    if len(digits) < 6:
        raise ValidationError("phone", "must have at least 6 digits", personal=True)
    return digits


def phone_key(text: str) -> str:
    """The last `PHONE_KEY_DIGITS` digits: equal for national and international forms.

    >>> phone_key("+49 30 12345678") == phone_key("030 12345678")
    True
    """
    return normalise_phone(text)[-PHONE_KEY_DIGITS:]


def _tokens(text: str, field: str) -> list[str]:
    if not isinstance(text, str):
        raise ValidationError(field, "must be a string", text, personal=True)
    if not text.isascii():
        # Decompose, then drop the accents: "é" becomes "e".
        text = _COMBINING.sub("", unicodedata.normalize("NFKD", text))
    # "O'Brien" is one token; "Smith,Anna" and "Anna-Lena" are two.
    return _PUNCTUATION.sub(" ", text.translate(_APOSTROPHES)).casefold().split()


def name_tokens(text: str) -> tuple[str, ...]:
    """A name's tokens: NFKD, accents stripped, case-folded, punctuation dropped, sorted."""
    return tuple(sorted(_tokens(text, "name")))


def normalise_name(text: str) -> str:
    """A person's (or organisation's) name as compared: see `name_tokens`, joined by spaces.

    >>> normalise_name("Smith,  Anna") == normalise_name("anna SMITH")
    True
    >>> normalise_name("Zoë O'Brien-Müller")
    'muller obrien zoe'
    """
    return " ".join(name_tokens(text))


def normalise_company(text: str) -> str:
    """A company name as compared: like `normalise_name`, without `LEGAL_SUFFIXES`.

    A name made only of such tokens keeps them (``"The Company"`` stays itself).

    >>> normalise_company("ACME GmbH & Co. KG") == normalise_company("Acme Inc.")
    True
    """
    tokens = sorted(_tokens(text, "company"))
    kept = [token for token in tokens if token not in LEGAL_SUFFIXES]
    return " ".join(kept or tokens)


def jaro_winkler(a: str, b: str) -> float:
    """Jaro-Winkler similarity of two strings, from 0.0 (nothing shared) to 1.0 (equal).

    Standard parameters: prefix scale 0.1 over at most 4 characters.

    >>> round(jaro_winkler("martha", "marhta"), 4)
    0.9611
    """
    if a == b:
        return 1.0
    la, lb = len(a), len(b)
    if not la or not lb:
        return 0.0
    window = max(max(la, lb) // 2 - 1, 0)
    used = [False] * lb
    a_hits: list[str] = []
    for i, ch in enumerate(a):
        hi = i + window + 1
        j = b.find(ch, max(0, i - window), hi)
        while j != -1 and used[j]:
            j = b.find(ch, j + 1, hi)
        if j != -1:
            used[j] = True
            a_hits.append(ch)
    m = len(a_hits)
    if not m:
        return 0.0
    b_hits = [b[j] for j in range(lb) if used[j]]
    half_transpositions = sum(x != y for x, y in zip(a_hits, b_hits, strict=True))
    jaro = (m / la + m / lb + (m - half_transpositions / 2) / m) / 3
    prefix = 0
    for x, y in zip(a[:4], b[:4], strict=False):
        if x != y:
            break
        prefix += 1
    return jaro + prefix * 0.1 * (1 - jaro)


def _email(value: object) -> str:
    text = clean_line(value, "emails", max_len=254, personal=True)
    try:
        normalise_email(text)  # refuses text that is not an address
    except ValidationError as error:
        raise ValidationError("emails", error.rule, personal=True) from None
    return text


def _emails(value: object) -> tuple[str, ...]:
    return tuple(_email(v) for v in items(value, "emails", personal=True))


def _phone(value: object) -> str:
    text = clean_line(value, "phones", max_len=40, personal=True)
    try:
        normalise_phone(text)  # refuses text with too few digits
    except ValidationError as error:
        raise ValidationError("phones", error.rule, personal=True) from None
    return text


def _phones(value: object) -> tuple[str, ...]:
    return tuple(_phone(v) for v in items(value, "phones", personal=True))


def _id(value: object) -> str:
    return check_id(value, "id")


def _kind(value: object) -> str:
    return clean_token(value, "kind")


def _name(value: object) -> str:
    # A full name joins a first and a last name of up to 200 characters each.
    return clean_line(value, "name", personal=True, allow_empty=True, max_len=401)


def _company(value: object) -> str | None:
    return None if value is None else clean_line(value, "company", allow_empty=True) or None


def _filled(instance: object, attribute: attrs.Attribute[int], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValidationError("filled", "must be an integer >= 0", value)


@attrs.frozen
class Candidate:
    """The comparable view of a party record (lead, contact, account or another kind).

    Attributes:
        id: The record's id; ids must be unique across one `find_duplicates` run.
        kind: The record's kind, a token such as ``lead``, ``contact`` or ``account``.
        name: A person's or an organisation's name, as entered (may be empty).
        emails: Email addresses, as entered; the first two are blocking keys.
        phones: Phone numbers in any format; the first two are blocking keys.
        company: The organisation the person works for (an account's own name).
        created_at: When the record was created.
        filled: How many optional fields of the record are filled (for the survivor rule).
    """

    id: str = attrs.field(converter=_id)
    kind: str = attrs.field(converter=_kind)
    name: str = attrs.field(converter=_name, metadata=PERSONAL, repr=False)
    emails: tuple[str, ...] = attrs.field(
        default=(), converter=_emails, metadata=PERSONAL, repr=False
    )
    phones: tuple[str, ...] = attrs.field(
        default=(), converter=_phones, metadata=PERSONAL, repr=False
    )
    company: str | None = attrs.field(default=None, converter=_company)
    created_at: datetime = attrs.field(validator=aware(), kw_only=True)
    filled: int = attrs.field(default=0, validator=_filled, kw_only=True)

    @classmethod
    def of_contact(cls, contact: Contact, company: str | None = None) -> Candidate:
        """A contact's view; pass its (primary) account's name as ``company`` if known."""
        if not isinstance(contact, Contact):
            raise ValidationError("contact", "must be a Contact", type(contact).__name__)
        filled = sum(
            bool(x)
            for x in (
                contact.first_name,
                contact.title,
                contact.emails,
                contact.phones,
                contact.addresses,
                contact.accounts,
                contact.owner_id,
                contact.tags,
                contact.time_zone,
            )
        )
        return cls(
            contact.id,
            "contact",
            contact.name,
            tuple(e.address for e in contact.emails),
            tuple(p.number for p in contact.phones),
            company,
            created_at=contact.created_at,
            filled=filled,
        )

    @classmethod
    def of_account(cls, account: Account) -> Candidate:
        """An account's view: its name is both ``name`` and ``company`` (an organisation)."""
        if not isinstance(account, Account):
            raise ValidationError("account", "must be an Account", type(account).__name__)
        filled = sum(
            bool(x)
            for x in (
                account.website,
                account.industry,
                account.emails,
                account.phones,
                account.addresses,
                account.owner_id,
                account.tags,
                account.parent_id,
            )
        )
        return cls(
            account.id,
            "account",
            account.name,
            tuple(e.address for e in account.emails),
            tuple(p.number for p in account.phones),
            account.name,
            created_at=account.created_at,
            filled=filled,
        )
