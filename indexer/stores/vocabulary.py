"""The collection's vocabulary: every word, phrase, label, tag and owner with its document frequency, per
visibility scope, for autocomplete (GET /v1/suggest) and "did you mean" (query/suggest.py).

One table in the catalog, `vocabulary(term, kind, scope, df)`, kept in the same transaction as the asset
it counts (Catalog.upsert_asset and delete_asset call `remove_asset` before and `add_asset` after a
change). `scope` is '' for public assets and the owner's name for private ones, so a viewer reads the
public scope and its own, an admin every scope, and anonymous callers the public one: a word that only
occurs in alice's private asset is never suggested to anyone else, nor counted for them.

Which annotations count depends on their confidence floors (MEDIASEARCH_ANNOTATION_FLOORS and the defaults):
the table records the floors it was counted with (`vocabulary_floors` in meta), and a write made under other floors
counts everything again with them first, so that a change always uncounts exactly what was counted (a
floor raised after an asset was counted must not leave its words behind when it goes private or away).

Terms are lower-cased. kinds:
  word    a word of the title, description, tags, text body and searchable annotation lines (speech,
          OCR, labels above their confidence floor), stop words left out
  phrase  a title of 2-8 words
  label   an annotation label (label, colour, content warning) above its floor
  tag     a tag
  owner   the owner's username
"""

import re
import sqlite3
from collections import Counter
from collections.abc import Iterable

from indexer.access import Viewer
from indexer.annotation_fields import field, floors_in_force, shown
from indexer.assets import Annotation

SCHEMA = """
CREATE TABLE IF NOT EXISTS vocabulary (
    term TEXT NOT NULL,
    kind TEXT NOT NULL,
    scope TEXT NOT NULL,               -- '' public; else the owner of the private assets counted
    df INTEGER NOT NULL,
    PRIMARY KEY (term, kind, scope)
) WITHOUT ROWID;
-- Short prefixes: each scope's terms, the most frequent first (see `complete`).
CREATE INDEX IF NOT EXISTS vocabulary_frequent ON vocabulary(scope, df);
"""
BUILT_KEY = "vocabulary_built"
FLOORS_KEY = "vocabulary_floors"  # the annotation floors the counts were made with (floors_in_force())
KINDS = ("word", "phrase", "label", "tag", "owner")
MAX_TERM = 60
MAX_PHRASE_WORDS = 8

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?")
STOP_WORDS = frozenset("""
a an and are as at be but by for from has have he her his i in into is it its of on or our she so than that
the their them then there these they this to was we were what when where which while who will with you your
not no yes do does did can could would should may might been being also just more most some such only own
""".split())


def words(text: str) -> list[str]:
    """The words of a text as the vocabulary keeps them: lower-cased, 2-60 characters, not only digits."""
    return [w for w in _WORD.findall(text.lower()) if 2 <= len(w) <= MAX_TERM and not w.isdigit()]


def asset_terms(title: str, description: str, tags: Iterable[str], body: str, owner: str,
                annotations: Iterable[Annotation]) -> set[tuple[str, str]]:
    """The distinct (term, kind) pairs one asset contributes (each counts once towards a df)."""
    terms: set[tuple[str, str]] = set()
    texts = [title, description, body, *tags]
    for a in annotations:
        if not shown(a):
            continue
        role = field(a.name).role
        if role in ("text", "label"):
            texts.append(a.value)
        if role == "label":
            value = " ".join(a.value.lower().split())[:MAX_TERM]
            if value:
                terms.add((value, "label"))
    for text in texts:
        terms.update((w, "word") for w in words(text) if w not in STOP_WORDS)
    for tag in tags:
        value = " ".join(tag.lower().split())[:MAX_TERM]
        if value:
            terms.add((value, "tag"))
    title_words = title.lower().split()
    if 2 <= len(title_words) <= MAX_PHRASE_WORDS:
        terms.add((" ".join(title_words)[: MAX_TERM * 2], "phrase"))
    terms.add((owner.lower()[:MAX_TERM], "owner"))
    return terms


def _row_terms(db: sqlite3.Connection, rowid: int) -> tuple[str, set[tuple[str, str]]] | None:
    """An asset row's scope and terms, read from the catalog as it stands in this transaction."""
    import json

    row = db.execute(
        "SELECT a.owner, a.visibility, a.title, a.description, a.tags, c.text FROM assets a "
        "JOIN contents c ON c.id = a.content_id WHERE a.rowid = ?", (rowid,)).fetchone()
    if row is None:
        return None
    notes = [Annotation(name=r[0], value=r[1], confidence=r[2]) for r in db.execute(
        "SELECT name, value, confidence FROM annotations WHERE asset_rowid = ?", (rowid,))]
    scope = "" if row[1] == "public" else row[0]
    return scope, asset_terms(row[2], row[3], json.loads(row[4]), row[5] or "", row[0], notes)


def _apply(db: sqlite3.Connection, scope: str, terms: set[tuple[str, str]], sign: int) -> None:
    if not terms:
        return
    if sign > 0:
        db.executemany(
            "INSERT INTO vocabulary(term, kind, scope, df) VALUES (?, ?, ?, 1) "
            "ON CONFLICT(term, kind, scope) DO UPDATE SET df = vocabulary.df + 1",
            [(t, k, scope) for t, k in terms])
    else:
        db.executemany("UPDATE vocabulary SET df = df - 1 WHERE term = ? AND kind = ? AND scope = ?",
                       [(t, k, scope) for t, k in terms])
        db.executemany("DELETE FROM vocabulary WHERE term = ? AND kind = ? AND scope = ? AND df <= 0",
                       [(t, k, scope) for t, k in terms])


def _recounted_for_new_floors(db: sqlite3.Connection) -> bool:
    """Count every asset again when the table was counted with other annotation floors than those in force
    now (in the write's transaction); True when it did."""
    row = db.execute("SELECT value FROM meta WHERE key = ?", (FLOORS_KEY,)).fetchone()
    if row is not None and row[0] == floors_in_force():
        return False
    rebuild(db)
    return True


def add_asset(db: sqlite3.Connection, rowid: int) -> None:
    """Count an asset row's terms (after it and its annotations were written)."""
    if _recounted_for_new_floors(db):
        return  # the new count holds this row as it stands
    found = _row_terms(db, rowid)
    if found is not None:
        _apply(db, found[0], found[1], +1)


def remove_asset(db: sqlite3.Connection, rowid: int) -> None:
    """Uncount an asset row's terms (before it or its annotations change or go)."""
    _recounted_for_new_floors(db)  # then what is uncounted is what was counted
    found = _row_terms(db, rowid)
    if found is not None:
        _apply(db, found[0], found[1], -1)


def _counted(db: sqlite3.Connection) -> Counter[tuple[str, str, str]]:
    """(term, kind, scope) -> how many assets hold it, counted from the assets themselves."""
    counts: Counter[tuple[str, str, str]] = Counter()
    for (rowid,) in db.execute("SELECT rowid FROM assets").fetchall():
        found = _row_terms(db, rowid)
        if found is not None:
            counts.update((t, k, found[0]) for t, k in found[1])
    return counts


def disagreements(db: sqlite3.Connection) -> tuple[int, int, list[str], list[str]]:
    """(terms counted from the assets, rows in the table, terms the table counts too seldom or lacks, terms
    it counts too often or should not hold), the last two as `scope/kind/term`: what `mediasearch check` reports and `repair` mends with `rebuild`. A term counted too
    often is the dangerous one: a word of an asset gone private or deleted would still be suggested."""
    expected = _counted(db)
    stored = Counter({(r[0], r[1], r[2]): int(r[3]) for r in db.execute("SELECT term, kind, scope, df FROM vocabulary")})
    low = sorted(f"{s}/{k}/{t}" for (t, k, s), n in expected.items() if stored.get((t, k, s), 0) < n)
    high = sorted(f"{s}/{k}/{t}" for (t, k, s), n in stored.items() if n > expected.get((t, k, s), 0))
    return len(expected), len(stored), low, high


def rebuild(db: sqlite3.Connection) -> None:
    """Count every asset again (a new table on an older home; owners changed in bulk; `repair`)."""
    counts = _counted(db)
    db.execute("DELETE FROM vocabulary")
    db.executemany("INSERT INTO vocabulary(term, kind, scope, df) VALUES (?, ?, ?, ?)",
                   [(t, k, s, n) for (t, k, s), n in counts.items()])
    db.execute("INSERT INTO meta(key, value) VALUES (?, '1') ON CONFLICT(key) DO UPDATE SET value = '1'",
               (BUILT_KEY,))
    db.execute("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
               (FLOORS_KEY, floors_in_force()))


def ensure(db: sqlite3.Connection) -> None:
    """The table, filled from the assets when this home had none (run once when the catalog opens)."""
    db.executescript(SCHEMA)
    if db.execute("SELECT 1 FROM meta WHERE key = ?", (BUILT_KEY,)).fetchone() is None:
        db.execute("BEGIN IMMEDIATE")
        try:
            if db.execute("SELECT 1 FROM meta WHERE key = ?", (BUILT_KEY,)).fetchone() is None:
                rebuild(db)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
    # A home counted before the floors were recorded was counted with those in force now (or it is
    # counted again on the first write made under others).
    db.execute("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO NOTHING", (FLOORS_KEY, floors_in_force()))


def _scope_sql(viewer: Viewer) -> tuple[str, list[str]]:
    """The scopes `viewer` may read. `+scope`: a filter, never a reason to leave the primary key's term
    range for the frequency index."""
    if viewer.admin:
        return "1 = 1", []
    if viewer.username:
        return "+scope IN ('', ?)", [viewer.username]
    return "+scope = ''", []


def _prefix_end(prefix: str) -> str:
    return prefix + "\U0010ffff"


# A prefix this short matches a large share of the vocabulary: its completions are looked for among each
# scope's HEAD most frequent terms first, walking an index in frequency order.
SHORT_PREFIX = 2
HEAD = 20_000


def complete(db: sqlite3.Connection, prefix: str, viewer: Viewer, limit: int,
             kinds: Iterable[str] = KINDS) -> list[tuple[str, str, int]]:
    """Terms starting with `prefix` (lower-cased) that `viewer` may see: (term, kind, df), the most frequent
    first, then the shortest. A longer prefix is one range scan of the primary key; a short one (which
    matches many terms) walks each visible scope's terms by frequency and stops at `limit` matches, and only
    when the frequent terms hold too few matches scans the prefix's range (then a small one)."""
    kinds = list(kinds)
    kind_sql = f"kind IN ({','.join('?' * len(kinds))})"
    if len(prefix) <= SHORT_PREFIX and not viewer.admin:
        scopes = ["", viewer.username] if viewer.username else [""]
        found: set[tuple[str, str]] = set()
        for scope in scopes:
            found.update((r[0], r[1]) for r in db.execute(
                "SELECT term, kind FROM (SELECT term, kind FROM vocabulary INDEXED BY vocabulary_frequent "
                "WHERE scope = ? ORDER BY df DESC LIMIT ?) AS frequent "
                f"WHERE term >= ? AND term < ? AND {kind_sql} LIMIT ?",
                (scope, HEAD, prefix, _prefix_end(prefix), *kinds, limit)))
        if len(found) >= limit:
            clause, params = _scope_sql(viewer)
            counted = []
            for term, kind in found:  # exact counts over every visible scope, for these few
                n = db.execute(f"SELECT sum(df) FROM vocabulary WHERE term = ? AND kind = ? AND {clause}",
                               (term, kind, *params)).fetchone()[0]
                counted.append((term, kind, int(n)))
            counted.sort(key=lambda t: (-t[2], len(t[0]), t[0]))
            return counted[:limit]
    clause, params = _scope_sql(viewer)
    return [(r[0], r[1], r[2]) for r in db.execute(
        f"SELECT term, kind, sum(df) AS n FROM vocabulary WHERE term >= ? AND term < ? AND {clause} "
        f"AND {kind_sql} GROUP BY term, kind ORDER BY n DESC, length(term), term LIMIT ?",
        (prefix, _prefix_end(prefix), *params, *kinds, limit))]


def frequency(db: sqlite3.Connection, term: str, viewer: Viewer, kind: str = "word") -> int:
    clause, params = _scope_sql(viewer)
    row = db.execute(f"SELECT coalesce(sum(df), 0) FROM vocabulary WHERE term = ? AND kind = ? AND {clause}",
                     (term, kind, *params)).fetchone()
    return int(row[0])


def words_starting(db: sqlite3.Connection, prefix: str, viewer: Viewer, min_len: int, max_len: int) -> list[tuple[str, int]]:
    """Words starting with `prefix` of `min_len`-`max_len` characters that `viewer` may see, with their df:
    the candidates of a spelling correction."""
    clause, params = _scope_sql(viewer)
    return [(r[0], r[1]) for r in db.execute(
        f"SELECT term, sum(df) FROM vocabulary WHERE term >= ? AND term < ? AND kind = 'word' AND {clause} "
        "AND length(term) BETWEEN ? AND ? GROUP BY term",
        (prefix, _prefix_end(prefix), *params, min_len, max_len))]


class Vocabulary:
    """The vocabulary of one catalog, read as a viewer may see it (the query layer's entry point)."""

    def __init__(self, catalog) -> None:  # noqa: ANN001 - a Catalog (imported lazily: it imports this module)
        self.catalog = catalog

    def complete(self, prefix: str, viewer: Viewer, limit: int, kinds: Iterable[str] = KINDS) -> list[tuple[str, str, int]]:
        return complete(self.catalog.db, prefix, viewer, limit, kinds)

    def frequency(self, term: str, viewer: Viewer, kind: str = "word") -> int:
        return frequency(self.catalog.db, term, viewer, kind)

    def words_starting(self, prefix: str, viewer: Viewer, min_len: int, max_len: int) -> list[tuple[str, int]]:
        return words_starting(self.catalog.db, prefix, viewer, min_len, max_len)

    # Maintenance (`mediasearch check` / `repair`): the table against the assets it counts.
    def disagreements(self) -> tuple[int, int, list[str], list[str]]:
        # Reads only (a write transaction would count as the disk being writable again): a write between
        # the two reads can show as a disagreement, as with the other stores; check again to be sure.
        return disagreements(self.catalog.db)

    def rebuild(self) -> None:
        with self.catalog.transaction() as db:
            rebuild(db)
