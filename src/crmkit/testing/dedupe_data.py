"""Realistic generated contacts with planted duplicates, for dedupe quality tests and benchmarks.

>>> data = generate_contacts(200, duplicate_rate=0.05, seed=1)
>>> len(data.candidates), len(data.duplicate_pairs)
(200, 10)
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import attrs

from crmkit.kernel.errors import ValidationError
from crmkit.parties.matching import Candidate, normalise_email, phone_key


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


FIRST_NAMES = _words(
    "Aaron Abdul Adam Adriana Agnieszka Ahmed Aiko Alan Albert Alejandro Aleksandra Alex"
    " Alexander Alice Amelia Amir Ana Andrea Andreas Andrew Angela Anna Anne Anton Arjun"
    " Astrid Ayesha Barbara Beatriz Benjamin Bernd Bianca Carla Carlos Carmen Caroline"
    " Catherine Charlotte Chen Chiara Christian Christina Claire Claudia Daniel Daniela David"
    " Deepak Diana Diego Dmitri Dominik Dorothea Edward Elena Elif Elisabeth Emily Emma Emre"
    " Eric Erik Eva Fatima Felix Fernando Fiona Florian Francesca Frank Frederik Gabriel"
    " Georg George Giulia Grace Greta Hana Hannah Hans Harald Harry Heike Helen Henrik Hiroshi"
    " Hugo Ian Ines Ingrid Isabel Ivan Jacob Jakub James Jan Jana Javier Jennifer Jens Jessica"
    " Joao Johanna John Jonas Jorge Jose Julia Julian Jurgen Karin Karl Katarina Katharina"
    " Kenji Kevin Klaus Laura Lea Lena Leon Leonie Liam Lina Lisa Lorenzo Lucas Lucia Ludwig"
    " Luis Lukas Magdalena Maja Manuel Marco Maria Marie Marina Mark Marta Martin Mateo"
    " Matthias Max Mehmet Mei Michael Michelle Miguel Mohammed Monika Nadia Natalia Nicolas"
    " Nina Noah Nora Olga Oliver Olivia Omar Oskar Pablo Patricia Patrick Paul Paula Pedro"
    " Peter Petra Philipp Pierre Priya Rafael Rahul Ralf Raquel Rebecca Ricardo Robert Rosa"
    " Ruth Sabine Samuel Sandra Sara Sarah Sebastian Sergio Simon Sofia Sophie Stefan"
    " Stephanie Susanne Sven Tanja Thomas Tim Tobias Tomas Ursula Valentina Vera Victor"
    " Viktor William Wolfgang Yasmin Yuki Yusuf Zofia"
)
"""Given names from many countries."""

_ROOTS = _words(
    "Adler Albrecht Ander Bauer Beck Berg Black Brand Braun Brook Carl Castel Crane Dahl"
    " Dietrich Eck Eis Engel Falk Feld Fisch Frank Fried Gold Graf Gross Grun Haas Hall"
    " Hart Heil Hoff Holm Horn Jung Kaiser Kal Keller Klein Koch Kohl Kraus Kuhn Lang Lind"
    " Lorenz Ludwig Mar Mayer Meier Mill Moser Neu Nord Oster Peter Pohl Rich Ritter Rosen"
    " Roth Sand Schaf Schmid Schnei Schwarz Sieg Sommer Stark Stein Stern Stolz Strom"
    " Sund Thal Vogel Wald Walter Weber Weiss Wend Wester Wilde Winter Wolf Wood Zimmer"
)
_ENDINGS = (
    "", "son", "sen", "mann", "berg", "er", "ski", "ez", "ini", "ov", "stein", "ley",
    "ford", "well", "feld", "hausen", "ova", "escu", "ic", "ton",
)  # fmt: skip
LAST_NAMES = tuple(sorted({f"{root}{end}" for root in _ROOTS for end in _ENDINGS}))
"""Family names: roots and endings combined (about 1,800)."""

_WORDS = _words(
    "Alpine Apex Arctic Atlas Aurora Blue Bright Cedar Central Clear Coastal Copper Crystal"
    " Delta Eagle East Echo Emerald First Forest Global Golden Granite Green Harbor Highland"
    " Iron Lake Liberty Lunar Maple Meridian Metro Nordic North Oak Ocean Orbit Pacific Peak"
    " Pine Pioneer Prime Quantum Red River Rock Royal Silver Solar Star Stone Summit Sun"
    " Swift Terra Union United Valley Vector West Wind"
)
_TRADES = _words(
    "Analytics Bakery Biotech Builders Capital Consulting Dental Design Energy Engineering"
    " Foods Freight Health Insurance Labs Logistics Media Metals Motors Networks Optics"
    " Pharma Plastics Robotics Software Systems Textiles Tools Travel"
)
_LEGAL = ("GmbH", "AG", "Ltd", "Inc.", "LLC", "S.A.", "B.V.", "plc", "GmbH & Co. KG", "")
_FREEMAIL = ("gmail.com", "googlemail.com", "yahoo.com", "outlook.com", "gmx.de", "web.de")
_CALLING = (("49", 10), ("44", 10), ("1", 10), ("33", 9), ("39", 10))


@attrs.frozen
class GeneratedContacts:
    """Generated candidates and the pairs that are truly one person.

    Attributes:
        candidates: All records, originals and planted duplicates, shuffled.
        duplicate_pairs: Each planted (original id, duplicate id) pair, smaller id first.
    """

    candidates: tuple[Candidate, ...]
    duplicate_pairs: frozenset[tuple[str, str]]


def _typo(rng: random.Random, word: str) -> str:
    # One edit: substitute, insert or delete one character (never the only one).
    i = rng.randrange(len(word))
    letter = rng.choice("abcdefghijklmnopqrstuvwxyz")
    edit = rng.randrange(3) if len(word) > 3 else 0
    if edit == 0:
        return word[:i] + letter + word[i + 1 :]
    if edit == 1:
        return word[:i] + letter + word[i:]
    return word[:i] + word[i + 1 :]


class _Maker:
    def __init__(self, n: int, rng: random.Random) -> None:
        self.rng = rng
        self.emails: set[str] = set()
        self.phones: set[str] = set()
        count = max(10, n // 50)
        companies: set[str] = set()
        while len(companies) < count:
            words = rng.sample(_WORDS, 2) if rng.random() < 0.5 else [rng.choice(_WORDS)]
            companies.add(" ".join([*words, rng.choice(_TRADES)]))
        self.companies = sorted(companies)
        self.start = datetime(2020, 1, 1, tzinfo=UTC)

    def unique_email(self, local: str, domain: str) -> str:
        n = 0
        while True:
            address = f"{local}{n or ''}@{domain}"
            key = normalise_email(address)
            if key not in self.emails:
                self.emails.add(key)
                return address
            n += self.rng.randrange(1, 9)

    def email(self, first: str, last: str, company: str | None) -> str:
        f, la = first.lower(), last.lower()
        local = self.rng.choice((f"{f}.{la}", f"{f}{la}", f"{f[0]}.{la}", f"{la}.{f}", f"{f}_{la}"))
        if company and self.rng.random() < 0.6:
            domain = "-".join(company.lower().split()[:2]) + self.rng.choice((".com", ".de"))
        else:
            domain = self.rng.choice(_FREEMAIL)
        return self.unique_email(local, domain)

    def phone(self) -> str:
        while True:
            code, digits = self.rng.choice(_CALLING)
            national = str(self.rng.randrange(1, 10)) + "".join(
                self.rng.choices("0123456789", k=digits - 1)
            )
            number = f"+{code}{national}"
            if phone_key(number) not in self.phones:
                self.phones.add(phone_key(number))
                return number

    def original(self, i: int) -> Candidate:
        rng = self.rng
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        company = None
        if rng.random() < 0.8:
            company = f"{rng.choice(self.companies)} {rng.choice(_LEGAL)}".strip()
        return Candidate(
            f"c{i:07d}",
            "contact",
            f"{first} {last}",
            (self.email(first, last, company),),
            (self.phone(),) if rng.random() < 0.85 else (),
            company,
            created_at=self.start + timedelta(seconds=rng.randrange(150_000_000)),
            filled=rng.randrange(9),
        )

    def duplicate(self, i: int, of: Candidate) -> Candidate:
        rng = self.rng
        first, _, last = of.name.partition(" ")
        if rng.random() < 0.5:
            if rng.random() < 0.5:
                first = _typo(rng, first)
            else:
                last = _typo(rng, last)
        name = f"{last}, {first}" if rng.random() < 0.2 else f"{first}  {last}"
        name = rng.choice((name, name, name.upper(), name.lower()))
        emails: tuple[str, ...] = ()
        roll = rng.random()
        if roll < 0.85:
            emails = (self.email_variant(of.emails[0]),)
        elif roll < 0.9:
            emails = (self.email(first or "x", last or "x", None),)
        phones: tuple[str, ...] = ()
        if of.phones and rng.random() < 0.75:
            phones = (self.phone_variant(of.phones[0]),)
        company = of.company
        if company is not None:
            base = company
            if rng.random() < 0.3:  # another legal form, or none
                for legal in _LEGAL[:-1]:
                    base = base.removesuffix(f" {legal}")
                base = f"{base} {rng.choice(_LEGAL)}".strip()
            company = rng.choice((base, base.upper(), base.lower())) if rng.random() < 0.9 else None
        return Candidate(
            f"c{i:07d}",
            rng.choice(("contact", "lead")),
            name,
            emails,
            phones,
            company,
            created_at=self.start + timedelta(seconds=rng.randrange(150_000_000)),
            filled=rng.randrange(9),
        )

    def email_variant(self, address: str) -> str:
        rng = self.rng
        local, _, domain = address.rpartition("@")
        if domain in ("gmail.com", "googlemail.com") and rng.random() < 0.5:
            local = local.replace(".", "") if "." in local else local[:1] + "." + local[1:]
        if rng.random() < 0.3:
            local += "+" + rng.choice(("crm", "news", "web", "2024"))
        variant = f"{local}@{domain}"
        return rng.choice((variant, variant.upper(), variant.title(), f" {variant} "))

    def phone_variant(self, number: str) -> str:
        rng = self.rng
        digits = number[1:]
        code = next(c for c, _ in _CALLING if digits.startswith(c))
        national = digits[len(code) :]
        return rng.choice(
            (
                f"0{national[:3]} {national[3:]}",
                f"00{code} {national}",
                f"+{code} ({national[:3]}) {national[3:6]}-{national[6:]}",
                number,
            )
        )


def generate_contacts(n: int, duplicate_rate: float = 0.05, seed: int = 0) -> GeneratedContacts:
    """``n`` contact candidates, of which ``round(n * duplicate_rate)`` are planted duplicates.

    Originals have names from `FIRST_NAMES` and `LAST_NAMES`, unique emails
    derived from the name (work or free-mail domains), unique E.164 phones and
    (mostly) a company. Each duplicate copies one original, with: a one-character
    typo in the name (half of them), ``Last, First`` order, case and spacing
    changes; the email in another case, with or without gmail dots or a
    ``+tag`` (85%), a different email (5%) or none; the phone in a national or
    other format (75% of those with one); the company with another legal
    suffix or case, or none. Deterministic for a seed.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValidationError("n", "must be a positive integer", n)
    if not isinstance(duplicate_rate, float | int) or not 0 <= duplicate_rate < 0.5:
        raise ValidationError("duplicate_rate", "must be from 0 to 0.5", duplicate_rate)
    rng = random.Random(seed)
    maker = _Maker(n, rng)
    dupes = round(n * duplicate_rate)
    originals = [maker.original(i) for i in range(n - dupes)]
    chosen = rng.sample(range(len(originals)), dupes)
    planted = [maker.duplicate(n - dupes + k, originals[i]) for k, i in enumerate(chosen)]
    pairs = frozenset(
        tuple(sorted((originals[i].id, dup.id))) for i, dup in zip(chosen, planted, strict=True)
    )
    candidates = originals + planted
    rng.shuffle(candidates)
    return GeneratedContacts(tuple(candidates), pairs)  # type: ignore[arg-type]
