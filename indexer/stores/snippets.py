"""Snippets of long texts without FTS5 scanning the whole column (issue 17, 0c).

FTS5's snippet() considers every window around every hit of every query term in the column: over a text
of 150-400 kB with common query words that is 100-140 ms per row (docs/benchmarks.md), and a BM25 channel
asks one per returned row. For a long text, the few chunks (about 4 kB, cut at spaces) that hold the most
distinct query terms are found by a substring test of the terms' stems, put in a small in-memory
FTS5 table with the same tokenizer, and the best-ranked chunk gives the snippet: the same marks, the same
window size. Short texts keep FTS5's own snippet of the whole column.
"""

import re
import sqlite3
from bisect import bisect_right

LONG_TEXT = 16_000  # characters; above it a text's snippet comes from its best chunks
CHUNK = 4_000
CHUNKS_TRIED = 3
_QUOTED = re.compile(r'"((?:[^"]|"")*)"')


def expression_terms(expression: str) -> list[str]:
    """The words of an FTS5 expression as fts_expression writes it (quoted strings joined by AND/OR/NOT)."""
    words = []
    for quoted in _QUOTED.findall(expression):
        words += re.findall(r"\w+", quoted.replace('""', '"').lower())
    return list(dict.fromkeys(words))


def _stem_prefix(word: str) -> str:
    """A prefix the porter stem of `word` starts with (porter removes at most a few end letters, and
    changes a final y to i: 'happy' -> 'happi', 'heated' -> 'heat')."""
    if len(word) <= 4:
        return word[:-1] if word.endswith("y") and len(word) > 2 else word
    return word[: max(4, len(word) - 3)]


def chunked_snippet(text: str, expression: str, start: str, end: str, ellipsis: str = "…", tokens: int = 24) -> str | None:
    """FTS5's snippet() of `text` for `expression`, computed on its best chunks; None when no chunk matches."""
    terms = expression_terms(expression)
    if not terms:
        return None
    prefixes = list(dict.fromkeys(_stem_prefix(t) for t in terms))
    # Chunk boundaries at spaces, then for each stem the chunks it occurs in: one find() per chunk at most,
    # on the text lower-cased once (a substring test is a heuristic; FTS5 decides below).
    bounds = [0]
    while bounds[-1] < len(text):
        j = text.find(" ", bounds[-1] + CHUNK)
        bounds.append(len(text) if j < 0 else j)
    lower = text.lower()
    hits: dict[int, int] = {}
    for prefix in prefixes:
        i = 0
        while (pos := lower.find(prefix, i)) >= 0:
            n = bisect_right(bounds, pos) - 1
            hits[n] = hits.get(n, 0) + 1
            i = bounds[n + 1] if n + 1 < len(bounds) else len(text)
    scored = sorted((-found, n, bounds[n], text[bounds[n]:bounds[n + 1]]) for n, found in hits.items() if n + 1 < len(bounds))
    if not scored:
        return None
    scored.sort()
    best = scored[:CHUNKS_TRIED]
    with sqlite3.connect(":memory:") as mem:
        mem.execute("CREATE VIRTUAL TABLE s USING fts5(body, tokenize = 'porter unicode61')")
        mem.executemany("INSERT INTO s(rowid, body) VALUES (?, ?)", [(offset + 1, chunk) for _, _, offset, chunk in best])
        either = " OR ".join(f'"{t}"' for t in terms)  # a chunk needs any one term, not every required phrase
        row = mem.execute(
            "SELECT rowid, snippet(s, 0, ?, ?, ?, ?) FROM s WHERE s MATCH ? ORDER BY bm25(s), rowid LIMIT 1",
            (start, end, ellipsis, tokens, either),
        ).fetchone()
    if row is None:
        return None
    snippet = row[1]
    if row[0] > 1 and not snippet.startswith(ellipsis):
        snippet = ellipsis + snippet  # the chunk starts inside the text
    return snippet
