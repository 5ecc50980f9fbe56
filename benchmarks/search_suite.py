"""The ``search`` suite: `SqliteStore.search` against hand-written FTS5 queries.

A SQLite file holds N contacts (1,000,000; ``--quick``: 2,000), written through
the store port in change sets of 50,000 (untimed): each document carries the
contact's ``search_text`` (first and last name, email, phone digits, as
`crmkit.app.search_text.contact_text` computes it) and its owner. Names are drawn
with a Zipf-like skew from generated first names and surnames, seed 42.

Three query sets, each timed per query (median and p99 over the set):

* **exact**: a surname as typed (``Müller``: folded to ``muller``);
* **prefix**: the first three or four letters of a surname;
* **misspelled**: a first name and a surname with one planted edit.

The peer is hand-written ``sqlite3`` on its own FTS5 table over the same
words (same ``ascii`` tokenizer, prefix and detail options), returning the
same ids, asserted before timing: ``MATCH '"muller"' ORDER BY id LIMIT 20``,
and when that is short of a page, ``MATCH '"muller"*'`` ordered by whether
the row holds the word itself, then id (``raw_ids``); for misspellings the
same one-edit variants ORed by hand (same ids reported, not asserted: crmkit
also ranks prefixes of the first name). The ratio bar (1.5) holds for exact
and prefix.
Recall is the share of planted misspellings whose contact is a hit of
``fuzzy=True`` (among the first 1,000; the bar is 0.9); the share on the first
page of 20 is reported beside it: it is lower where hundreds of contacts share
the first name and surname and tie on score (ties go by id), or where the
typo spells another surname, which then ranks first as an exact match.
``peak_mb``: a fresh process runs every query of a set once.
"""

from __future__ import annotations

import json
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from measure import Row, peak_mb

from crmkit.adapters.sqlite import SqliteStore
from crmkit.app.records import schema
from crmkit.ports.search import SearchQuery, normalized, search_terms, variants
from crmkit.ports.storage import ChangeSet, Document, Put

TENANT = "default"
BATCH = 50_000
LIMIT = 20
MAX_HITS = 1000
"""How many hits the recall check reads (the store's largest page)."""
_SYLLABLES = (
    "mul", "ler", "sch", "mid", "berg", "man", "son", "ova", "ski", "ber", "ger", "hof",
    "wal", "ter", "kow", "ric", "lan", "den", "bau", "fel", "stein", "ham", "ner", "lin",
)  # fmt: skip
_FIRST = (
    "Anna", "Jon", "Maria", "Lukas", "Sofia", "Ali", "Chen", "Élodie", "Björn", "Zoë",
    "Mateo", "Aiko", "Olga", "Kwame", "Ines", "Noah", "Lea", "Omar", "Priya", "Jan",
)  # fmt: skip


def _names(rng: random.Random) -> tuple[list[str], list[str]]:
    surnames = sorted(
        {"".join(rng.sample(_SYLLABLES, rng.randint(2, 3))).title() for _ in range(4000)}
    )
    firsts = [f"{f}{s}" if i else f for i, f in enumerate(_FIRST) for s in ("", "a", "e")]
    return firsts, surnames


def contacts(count: int) -> list[tuple[str, str, str]]:
    """(id, first name, surname) of ``count`` contacts, seed 42, surnames skewed."""
    rng = random.Random(42)
    firsts, surnames = _names(rng)
    weights = [1 / (rank + 10) for rank in range(len(surnames))]
    last = rng.choices(surnames, weights, k=count)
    first = rng.choices(firsts, k=count)
    return [(f"c-{i:07d}", first[i], last[i]) for i in range(count)]


def search_text(rng: random.Random, first: str, last: str, i: int) -> str:
    """What `contact_text` gives for such a contact: names, email, phone digit runs."""
    digits = f"49{rng.randrange(10**9):09d}"
    phones = (digits, *("0" + digits[cut:] for cut in (1, 2, 3)))
    return normalized(f"{first} {last} {first}.{last}{i % 97}@example.com {' '.join(phones)}")


def build(path: Path, raw_path: Path, people: list[tuple[str, str, str]]) -> None:
    """Write the contacts through the store port, and the raw side's own FTS5 table."""
    rng = random.Random(7)
    store = SqliteStore(path)
    store.open(schema())
    raw = sqlite3.connect(raw_path, isolation_level=None)
    raw.execute(
        "CREATE VIRTUAL TABLE raw USING fts5(id UNINDEXED, words,"
        " tokenize='ascii', prefix='2 3', detail=none)"
    )
    try:
        for start in range(0, len(people), BATCH):
            docs = []
            for i, first, last in people[start : start + BATCH]:
                text = search_text(rng, first, last, int(i[2:]))
                docs.append(Document("contact", i, 1, "{}", {"search_text": text}))
            store.commit(TENANT, ChangeSet(tuple(Put(doc, 0) for doc in docs)))
            raw.execute("BEGIN")
            raw.executemany(
                "INSERT INTO raw (id, words) VALUES (?, ?)",
                [(doc.id, doc.index["search_text"]) for doc in docs],
            )
            raw.execute("COMMIT")
    finally:
        store.close()
        raw.close()


def _misspell(rng: random.Random, word: str) -> str:
    """``word`` with one random edit that leaves it a different word of letters."""
    while True:
        i = rng.randrange(len(word))
        ch = rng.choice("abcdefghijklmnopqrstuvwxyz")
        edit = rng.choice(("delete", "insert", "replace", "swap"))
        if edit == "delete":
            out = word[:i] + word[i + 1 :]
        elif edit == "insert":
            out = word[:i] + ch + word[i:]
        elif edit == "replace":
            out = word[:i] + ch + word[i + 1 :]
        else:
            out = (
                word[:i] + word[i + 1 : i + 2] + word[i] + word[i + 2 :]
                if i + 1 < len(word)
                else word
            )
        if out != word and len(out) >= 4:
            return out


def query_sets(people: list[tuple[str, str, str]], size: int) -> dict[str, list[Any]]:
    """The queries of each set; misspelled ones carry the planted contact's id."""
    rng = random.Random(11)
    sample = rng.sample(people, size)
    exact = [last for _, _, last in sample]
    prefix = [last[: rng.choice((3, 4))] for _, _, last in sample]
    misspelled = [(f"{first} {_misspell(rng, normalized(last))}", id) for id, first, last in sample]
    return {"exact": exact, "prefix": prefix, "misspelled": misspelled}


def crmkit_ids(store: SqliteStore, text: str, fuzzy: bool, limit: int = LIMIT) -> list[str]:
    """crmkit's side: the ids of the best ``limit`` hits."""
    query = SearchQuery("contact", text, limit=limit, fuzzy=fuzzy)
    return [hit.id for hit in store.search(TENANT, query)]


def raw_sql(name: str, text: str) -> str:
    """The FTS5 expression a developer writes for a query of set ``name``."""
    words = search_terms(text)
    if name == "exact":
        return " AND ".join(f'"{w}"' for w in words)
    if name == "prefix":
        return " AND ".join(f'"{w}"*' for w in words)
    return " AND ".join(
        "(" + " OR ".join(f'"{v}"' for v in sorted({w, *variants(w)})) + ")" for w in words
    )


_TIERED = (
    "SELECT id FROM raw WHERE raw MATCH ? ORDER BY"
    " (rowid IN (SELECT rowid FROM raw WHERE raw MATCH ?)) DESC, id LIMIT ?"
)


def raw_ids(conn: sqlite3.Connection, name: str, text: str) -> list[str]:
    """The peer: the hand-written FTS5 queries, best first, then by id.

    For a word (exact and prefix sets): the documents holding the word, by id;
    when they are fewer than a page, the documents holding a word it starts,
    those holding the word itself first. For misspellings: the documents
    holding one of the variants, by id.
    """
    if name == "misspelled":
        rows = conn.execute(
            "SELECT id FROM raw WHERE raw MATCH ? ORDER BY id LIMIT ?",
            (raw_sql(name, text), LIMIT),
        ).fetchall()
        return [row[0] for row in rows]
    exact = raw_sql("exact", text)
    rows = conn.execute(
        "SELECT id FROM raw WHERE raw MATCH ? ORDER BY id LIMIT ?", (exact, LIMIT)
    ).fetchall()
    if len(rows) < LIMIT:
        rows = conn.execute(_TIERED, (raw_sql("prefix", text), exact, LIMIT)).fetchall()
    return [row[0] for row in rows]


@dataclass
class SearchRow(Row):
    """A suite row with its percentiles and sizes.

    Attributes:
        contacts: Contacts in the store.
        queries: Queries in the set.
        p99_s: crmkit's 99th percentile seconds per query.
        peer_p99_s: The peer's.
        recall: Share of planted misspellings whose contact is a hit (misspelled only).
        recall_first_page: Share whose contact is among the first `LIMIT` hits.
    """

    contacts: int = 0
    queries: int = 0
    p99_s: float = 0.0
    peer_p99_s: float = 0.0
    recall: float | None = None
    recall_first_page: float | None = None

    def to_json(self) -> dict[str, Any]:
        """The row as written by ``--json``, with percentiles and sizes."""
        data = super().to_json()
        data.update(contacts=self.contacts, queries=self.queries, p99_s=self.p99_s,
                    peer_p99_s=self.peer_p99_s, recall=self.recall,
                    recall_first_page=self.recall_first_page)  # fmt: skip
        return data


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def time_set(
    store: SqliteStore, conn: sqlite3.Connection, name: str, texts: list[str], repeat: int
) -> tuple[list[float], list[float]]:
    """Per-query seconds of both sides, interleaved, best of ``repeat`` per query."""
    fuzzy = name == "misspelled"
    ours: list[float] = []
    theirs: list[float] = []
    for text in texts:
        best = [float("inf"), float("inf")]
        for _ in range(repeat):
            start = time.perf_counter()
            crmkit_ids(store, text, fuzzy)
            best[0] = min(best[0], time.perf_counter() - start)
            start = time.perf_counter()
            raw_ids(conn, name, text)
            best[1] = min(best[1], time.perf_counter() - start)
        ours.append(best[0])
        theirs.append(best[1])
    return ours, theirs


def child_peak_mb(side: str, name: str, path: Path, raw_path: Path, texts: list[str]) -> float:
    """Peak resident memory of a fresh process that runs one side's query set once."""
    out = subprocess.run(
        [sys.executable, __file__, "--peak", side, name, str(path), str(raw_path)],
        input=json.dumps(texts), check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    return float(json.loads(out)["peak_mb"])


def _peak_child(side: str, name: str, path: Path, raw_path: Path) -> None:
    texts = json.loads(sys.stdin.read())
    if side == "crmkit":
        store = SqliteStore(path)
        store.open(schema())
        for text in texts:
            crmkit_ids(store, text, name == "misspelled")
        store.close()
    else:
        conn = sqlite3.connect(raw_path)
        for text in texts:
            raw_ids(conn, name, text)
        conn.close()
    print(json.dumps({"peak_mb": peak_mb()}))


def run(quick: bool) -> list[Row]:
    """Every row of the suite."""
    count, size, repeat = (2_000, 40, 2) if quick else (1_000_000, 300, 3)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="crmkit-bench-") as folder:
        path, raw_path = Path(folder) / "crm.db", Path(folder) / "raw.db"
        people = contacts(count)
        started = time.perf_counter()
        build(path, raw_path, people)
        print(
            f"search: wrote {count:,} contacts in {time.perf_counter() - started:.1f} s (untimed)"
        )
        sets = query_sets(people, size)
        store = SqliteStore(path)
        store.open(schema())
        conn = sqlite3.connect(raw_path)
        try:
            for name, entries in sets.items():
                texts = [e[0] for e in entries] if name == "misspelled" else entries
                recall = on_page = None
                if name == "misspelled":
                    found = sum(id in crmkit_ids(store, t, True, MAX_HITS) for t, id in entries)
                    recall = found / len(entries)
                    shown = sum(id in crmkit_ids(store, t, True) for t, id in entries)
                    on_page = shown / len(entries)
                same = sum(crmkit_ids(store, t, name == "misspelled") == raw_ids(conn, name, t)
                           for t in texts)  # fmt: skip
                if name != "misspelled" and same != len(texts):
                    raise AssertionError(f"{name}: {len(texts) - same} queries differ from raw")
                ours, theirs = time_set(store, conn, name, texts, repeat)
                row = SearchRow(
                    f"search: {name}, {count:,} contacts", statistics.median(ours),
                    "raw sqlite3 FTS5 query", statistics.median(theirs),
                    1.5 if name != "misspelled" else None, contacts=count, queries=len(texts),
                    p99_s=_p99(ours), peer_p99_s=_p99(theirs), recall=recall,
                    recall_first_page=on_page,
                )  # fmt: skip
                row.peak_mb = child_peak_mb("crmkit", name, path, raw_path, texts)
                row.peer_peak_mb = child_peak_mb("raw", name, path, raw_path, texts)
                print(
                    f"search {name}: median {row.crmkit_s * 1e3:.2f} ms vs"
                    f" {statistics.median(theirs) * 1e3:.2f} ms"
                    f" (ratio {row.ratio or 0:.2f}); p99 {row.p99_s * 1e3:.2f} ms vs"
                    f" {row.peer_p99_s * 1e3:.2f} ms; same ids {same}/{len(texts)}"
                    + ("" if recall is None else f"; recall {recall:.3f} ({on_page:.3f} on page 1)")
                    + f"; peak {row.peak_mb:.0f} / {row.peer_peak_mb:.0f} MB"
                )
                rows.append(row)
        finally:
            store.close()
            conn.close()
    return rows


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "--peak" and sys.argv[2] in ("crmkit", "raw"):
        _peak_child(sys.argv[2], sys.argv[3], Path(sys.argv[4]), Path(sys.argv[5]))
    else:
        sys.exit(
            "usage: search_suite.py --peak crmkit|raw SET PATH RAW_PATH (run benchmarks/run.py)"
        )
