"""A predictive lead scorer: naive Bayes over won and lost leads, as Odoo scores leads.

`NaiveBayesModel` counts, for won and for lost leads, how often each value of
each configured field occurred. `NaiveBayesScorer` turns the counts into

    p = A / (A + B),  A = P(won) * prod P(value | won),  B = P(lost) * prod P(value | lost)

with add-alpha (Laplace) smoothing over the field's known values plus one
bucket for values never seen. A missing or ``None`` feature is skipped. The
arithmetic runs in `Decimal` log space (``ln`` and ``exp`` are correctly
rounded there), so long products never underflow and every platform gives
the same digits.

>>> history = [({"source": "web"}, True), ({"source": "web"}, False), ({"source": "fair"}, False)]
>>> model = NaiveBayesModel.learn(history, ["source"])
>>> NaiveBayesScorer(model).score({"source": "web"}).probability
Decimal('0.3846')
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import MAX_EMAX, MIN_EMIN, ROUND_HALF_EVEN, Context, Decimal, localcontext
from typing import Final

import attrs

from crmkit.kernel.checks import items
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.text import clean_line, clean_token
from crmkit.sales.scoring import (
    PROBABILITY_QUANTUM,
    Contribution,
    Features,
    Score,
    check_features,
    known_value,
)

PRIOR: Final = "prior"
"""The name of the prior's contribution, ln(P(won) / P(lost)); no model field may use it."""

_ONE: Final = Decimal(1)
# Enough digits that quantising to four places never depends on the last one; the
# widest exponent range so that exp() of a large log-odds cannot overflow.
_CONTEXT: Final = Context(prec=34, rounding=ROUND_HALF_EVEN, Emax=MAX_EMAX, Emin=MIN_EMIN)


def _fields(value: object) -> tuple[str, ...]:
    found = items(value, "fields")
    if not found:
        raise ValidationError("fields", "must name at least one field")
    seen: set[str] = set()
    for index, name in enumerate(found):
        clean_token(name, f"fields[{index}]")
        if name == PRIOR:
            raise ValidationError(f"fields[{index}]", f"{PRIOR!r} is reserved", name)
        if name in seen:
            raise ValidationError(f"fields[{index}]", "must not repeat a field", name)
        seen.add(name)
    return found


def _alpha(value: object) -> Decimal:
    if isinstance(value, int) and not isinstance(value, bool):
        value = Decimal(value)
    if not isinstance(value, Decimal) or not value.is_finite() or value <= 0:
        raise ValidationError("alpha", "must be a positive Decimal", value)
    return value


def _counts(value: object, field: str) -> dict[str, dict[str, int]]:
    if not isinstance(value, Mapping):
        raise ValidationError(field, "must be a mapping of field to value counts", value)
    result: dict[str, dict[str, int]] = {}
    for name, counts in value.items():
        if not isinstance(name, str) or not isinstance(counts, Mapping):
            raise ValidationError(f"{field}.{name}", "must map values to counts", counts)
        table: dict[str, int] = {}
        for key, count in counts.items():
            path = f"{field}.{name}.{key}"
            if clean_line(key, path) != key:
                raise ValidationError(path, "must be stored text (stripped, NFC)", key)
            if isinstance(count, bool) or not isinstance(count, int) or count < 1:
                raise ValidationError(path, "must be a positive integer", count)
            table[key] = count
        result[name] = table
    return result


def _won_counts(value: object) -> dict[str, dict[str, int]]:
    return _counts(value, "won_counts")


def _lost_counts(value: object) -> dict[str, dict[str, int]]:
    return _counts(value, "lost_counts")


def _total(value: object, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError(
            field, "must be a positive integer (the model needs won and lost leads)", value
        )
    return value


def _won(value: object) -> int:
    return _total(value, "won")


def _lost(value: object) -> int:
    return _total(value, "lost")


@attrs.frozen
class NaiveBayesModel:
    """Counts of feature values among won and lost leads; serialisable.

    Treat the count tables as read-only: they are copied when a model is built (and,
    holding dicts, a model is not hashable).
    Build one with `learn`; grow it with `updated` or `merge`.

    Attributes:
        fields: The fields the model reads, in order.
        won: How many won leads it learned from (at least one).
        lost: How many lost leads it learned from (at least one).
        won_counts: Field to value to how many won leads had that value.
        lost_counts: Field to value to how many lost leads had that value.
        alpha: The add-alpha smoothing constant (1 is Laplace smoothing).
    """

    fields: tuple[str, ...] = attrs.field(converter=_fields)
    won: int = attrs.field(converter=_won)
    lost: int = attrs.field(converter=_lost)
    won_counts: dict[str, dict[str, int]] = attrs.field(converter=_won_counts)
    lost_counts: dict[str, dict[str, int]] = attrs.field(converter=_lost_counts)
    alpha: Decimal = attrs.field(default=_ONE, converter=_alpha)

    def __attrs_post_init__(self) -> None:
        for name, counts, total in (
            ("won_counts", self.won_counts, self.won),
            ("lost_counts", self.lost_counts, self.lost),
        ):
            if set(counts) != set(self.fields):
                raise ValidationError(name, "must have exactly one table per field", sorted(counts))
            for field, table in counts.items():
                if sum(table.values()) > total:
                    raise ValidationError(
                        f"{name}.{field}", "must not count more values than leads", total
                    )

    @classmethod
    def learn(
        cls,
        history: Iterable[tuple[Features, bool]],
        fields: Sequence[str],
        alpha: Decimal = _ONE,
    ) -> NaiveBayesModel:
        """Learn from ``(features, won)`` pairs in one streaming pass.

        Raises `ValidationError` unless the history holds at least one won and one lost lead.
        """
        tally = _Tally(_fields(fields))
        tally.add(history)
        return tally.model(_alpha(alpha))

    def updated(self, history: Iterable[tuple[Features, bool]]) -> NaiveBayesModel:
        """A model that has also learned from ``history`` (which may hold one outcome only)."""
        tally = _Tally(self.fields)
        tally.include(self)
        tally.add(history)
        return tally.model(self.alpha)

    def merge(self, other: NaiveBayesModel) -> NaiveBayesModel:
        """The model of both histories; both must read the same fields with the same alpha."""
        if not isinstance(other, NaiveBayesModel):
            raise ValidationError("other", "must be a NaiveBayesModel", type(other).__name__)
        if other.fields != self.fields:
            raise ValidationError("fields", "must be the same in both models", other.fields)
        if other.alpha != self.alpha:
            raise ValidationError("alpha", "must be the same in both models", other.alpha)
        tally = _Tally(self.fields)
        tally.include(self)
        tally.include(other)
        return tally.model(self.alpha)


class _Tally:
    """Mutable counts while learning; a model is built from it at the end."""

    def __init__(self, fields: tuple[str, ...]) -> None:
        self.fields = fields
        self.totals = {True: 0, False: 0}
        self.counts: dict[bool, dict[str, dict[str, int]]] = {
            outcome: {field: {} for field in fields} for outcome in (True, False)
        }

    def include(self, model: NaiveBayesModel) -> None:
        for outcome, total, counts in (
            (True, model.won, model.won_counts),
            (False, model.lost, model.lost_counts),
        ):
            self.totals[outcome] += total
            for field, table in counts.items():
                mine = self.counts[outcome][field]
                for value, count in table.items():
                    mine[value] = mine.get(value, 0) + count

    def add(self, history: Iterable[tuple[Features, bool]]) -> None:
        if isinstance(history, str | bytes | Mapping) or not isinstance(history, Iterable):
            raise ValidationError("history", "must be an iterable of (features, won) pairs")
        for index, entry in enumerate(history):
            path = f"history[{index}]"
            if not isinstance(entry, tuple | list) or len(entry) != 2:
                raise ValidationError(path, "must be a (features, won) pair", entry)
            features, won = entry
            if not isinstance(won, bool):
                raise ValidationError(f"{path}[1]", "must be true or false", won)
            try:
                check_features(features)
                values = [(field, known_value(features, field)) for field in self.fields]
            except ValidationError as exc:
                raise exc.at(path) from None
            self.totals[won] += 1
            counts = self.counts[won]
            for field, value in values:
                if value is not None:
                    counts[field][value] = counts[field].get(value, 0) + 1

    def model(self, alpha: Decimal) -> NaiveBayesModel:
        if not self.totals[True] or not self.totals[False]:
            raise ValidationError(
                "history",
                "must hold at least one won and one lost lead",
                f"{self.totals[True]} won, {self.totals[False]} lost",
            )
        return NaiveBayesModel(
            self.fields,
            self.totals[True],
            self.totals[False],
            self.counts[True],
            self.counts[False],
            alpha,
        )


def _quantise(value: Decimal) -> Decimal:
    return value.quantize(PROBABILITY_QUANTUM, ROUND_HALF_EVEN, context=_CONTEXT)


class NaiveBayesScorer:
    """Scores leads with a `NaiveBayesModel`; a `crmkit.sales.scoring.LeadScorer`.

    The score's contributions are the prior, ln(P(won) / P(lost)), and for each
    known feature the log-likelihood ratio ln(P(value | won) / P(value | lost)),
    each quantised to four places. Their exact sum is the log-odds of the
    probability. The value is ``round(100 * probability)``, half-even.
    """

    __slots__ = ("_prior", "_tables", "_unseen", "model")

    def __init__(self, model: NaiveBayesModel) -> None:
        if not isinstance(model, NaiveBayesModel):
            raise ValidationError("model", "must be a NaiveBayesModel", type(model).__name__)
        self.model = model
        self._tables: dict[str, dict[str, Decimal]] = {}
        self._unseen: dict[str, Decimal] = {}
        alpha = model.alpha
        with localcontext(_CONTEXT):
            self._prior = (Decimal(model.won) / Decimal(model.lost)).ln()
            for field in model.fields:
                won, lost = model.won_counts[field], model.lost_counts[field]
                buckets = len(won.keys() | lost.keys()) + 1  # plus one for unseen values
                won_total = sum(won.values()) + alpha * buckets
                lost_total = sum(lost.values()) + alpha * buckets
                # ln(P(v|won) / P(v|lost)), one ln per value: (cw + a) * L / ((cl + a) * W)
                ratio = lost_total / won_total
                self._tables[field] = {
                    value: ((won.get(value, 0) + alpha) / (lost.get(value, 0) + alpha) * ratio).ln()
                    for value in won.keys() | lost.keys()
                }
                self._unseen[field] = ratio.ln()

    def score(self, features: Features) -> Score:
        """The probability that a lead with these features is won, and why."""
        check_features(features)
        log_odds = self._prior
        contributions = [Contribution(PRIOR, None, _quantise(self._prior))]
        with localcontext(_CONTEXT):
            for field in self.model.fields:
                found = known_value(features, field)
                if found is None:
                    continue
                weight = self._tables[field].get(found, self._unseen[field])
                log_odds += weight
                contributions.append(Contribution(field, found, _quantise(weight)))
            probability = _quantise(1 / (1 + (-log_odds).exp()))
        value = int((probability * 100).to_integral_value(ROUND_HALF_EVEN))
        return Score(value, probability, tuple(contributions))

    def __repr__(self) -> str:
        return (
            f"NaiveBayesScorer({self.model.fields!r}, won={self.model.won}, lost={self.model.lost})"
        )
