"""Suggestions from the collection's own vocabulary, as the viewer may see it (indexer/stores/vocabulary.py):

  suggest       autocomplete of words, phrases (titles), labels, tags and owners (GET /v1/suggest)
  did_you_mean  the whole query with its misspelt words corrected: fuzzy terms within edit distance 1-2,
                the most frequent of the closest winning (SearchResponse.did_you_mean)

Private means private: both read only the public scope and the viewer's own, so a word that occurs only in
someone else's private asset is never suggested, corrected to, or counted.
"""

import re
import time
from dataclasses import dataclass

from pydantic import BaseModel, Field

from indexer.access import Viewer
from indexer.collection import Collection
from indexer.stores.vocabulary import KINDS, MAX_TERM, Vocabulary, words
from query.concurrent import Pending, channel_threads, start_aside
from query.language import parse_query

MAX_LIMIT = 50
# A correction replaces a known word when the search found nothing and it is this many times more frequent,
# or, when the search found something, when the word is rare (at most RARE documents) and the correction
# FAR_MORE times more frequent.
NOTHING_FOUND_RATIO = 10
RARE = 2
FAR_MORE = 50

_FIELD_KINDS = {"owner": "owner", "user": "owner", "by": "owner", "tag": "tag", "tags": "tag",
                "label": "label", "labels": "label", "object": "label"}
_FIELD_TOKEN = re.compile(r"^(?P<neg>-?)(?P<field>[A-Za-z_]+):(?P<value>\S*)$")


class Suggestion(BaseModel):
    text: str = Field(description="The completed search box: the words typed before, then the completion.")
    kind: str = Field(description="word, phrase, label, tag or owner")
    count: int = Field(description="Assets you may see that hold it.")


class SuggestResponse(BaseModel):
    q: str
    suggestions: list[Suggestion]


def suggest(collection: Collection, q: str, viewer: Viewer, limit: int = 8) -> SuggestResponse:
    """Completions of what is typed, the most frequent first. The last token is completed: as a word (the
    words before it kept), or as a field's value after `owner:`, `tag:` or `label:`; the whole box is also
    completed as a phrase, label or tag."""
    limit = max(1, min(limit, MAX_LIMIT))
    vocabulary = Vocabulary(collection.catalog)
    typed = q.lstrip()
    if not typed.strip():
        return SuggestResponse(q=q, suggestions=[])
    head, _, last = typed.rpartition(" ")
    head = f"{head} " if head else ""
    found: dict[str, Suggestion] = {}
    whole_box: set[str] = set()  # completions of everything typed (a title, label or tag): listed first

    def add(text: str, kind: str, count: int, whole: bool = False) -> None:
        if text not in found or found[text].count < count:
            found[text] = Suggestion(text=text, kind=kind, count=count)
        if whole:
            whole_box.add(text)

    if (token := _FIELD_TOKEN.match(last)) and token["field"].lower() in _FIELD_KINDS:
        kind = _FIELD_KINDS[token["field"].lower()]
        for term, _, count in vocabulary.complete(token["value"].lower()[:MAX_TERM], viewer, limit, [kind]):
            value = f'"{term}"' if " " in term else term
            add(f"{head}{token['neg']}{token['field']}:{value}", kind, count)
    else:
        whole = " ".join(typed.lower().split())[: MAX_TERM * 2]
        if " " in whole or typed.endswith(" "):
            for term, kind, count in vocabulary.complete(whole, viewer, limit, ["phrase", "label", "tag"]):
                add(term, kind, count, whole=True)
        if last:
            # A word that is also a tag folds into one suggestion: ask again for more when that left too few.
            for wanted in (limit, 2 * limit):
                got = vocabulary.complete(last.lower()[:MAX_TERM], viewer, wanted, KINDS)
                for term, kind, count in got:
                    add(f"{head}owner:{term}" if kind == "owner" else f"{head}{term}", kind, count)
                if len(found) >= limit or len(got) < wanted:
                    break
    ranked = sorted(found.values(), key=lambda s: (s.text not in whole_box, -s.count, len(s.text), s.text))
    return SuggestResponse(q=q, suggestions=ranked[:limit])


VOWELS = frozenset("aeiouy")


def edit_distance(a: str, b: str, bound: float) -> float:
    """Optimal string alignment distance (insert, delete, substitute, swap two neighbours), with one vowel
    for another costing half (the commonest misspelling: "astronot" is 1.5 from "astronaut", 2 from
    "astronomy"); bound + 1 as soon as it must exceed `bound`."""
    if abs(len(a) - len(b)) > bound:
        return bound + 1
    previous2: list[float] = []
    previous: list[float] = [float(j) for j in range(len(b) + 1)]
    for i in range(1, len(a) + 1):
        current: list[float] = [float(i)] + [0.0] * len(b)
        for j in range(1, len(b) + 1):
            if a[i - 1] == b[j - 1]:
                cost = 0.0
            else:
                cost = 0.5 if a[i - 1] in VOWELS and b[j - 1] in VOWELS else 1.0
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) > bound:
            return bound + 1
        previous2, previous = previous, current
    return previous[-1]


@dataclass
class WordCheck:
    """What the vocabulary says about one word, whatever the search found: its own frequency for the viewer
    and, once scanned, its best candidate (the closest, then the most frequent) as (distance, -df, term)."""
    word: str
    own: int
    scanned: bool = False
    best: tuple[float, int, str] | None = None


def _best_candidate(vocabulary: Vocabulary, word: str, viewer: Viewer) -> tuple[float, int, str] | None:
    bound = 1 if len(word) <= 4 else 2
    best: tuple[float, int, str] | None = None  # (distance, -df, term)
    # Candidates share the first letter; a word of 5 letters or more, its first two (or them swapped):
    # the scan stays small at 100k assets (bench/suggest.py); an error in the first letters goes uncorrected.
    prefixes = [word[0]] if len(word) < 5 else [word[:2], word[1] + word[0]]
    candidates = [c for p in dict.fromkeys(prefixes)
                  for c in vocabulary.words_starting(p, viewer, len(word) - bound, len(word) + bound)]
    consonants = set(word) - VOWELS
    for term, df in candidates:
        # Each edit of cost 1 changes the set of consonants by at most 2 (one vowel for another by none):
        # a cheap test that spares most candidates the full distance.
        if term == word or len(consonants ^ (set(term) - VOWELS)) > 2 * bound:
            continue
        distance = edit_distance(word, term, bound)
        if distance <= bound and (best is None or (distance, -df, term) < best):
            best = (distance, -df, term)
    return best


def check_word(vocabulary: Vocabulary, word: str, viewer: Viewer, scan_common: bool = True) -> WordCheck | None:
    """The found-independent part of one word's correction (None: the word is never corrected). A common word
    (more than RARE documents) can only be corrected when the search found nothing: with `scan_common` False
    its candidate scan is left for `decide` to run in that case alone."""
    if len(word) < 3 or not word.isalpha():
        return None
    check = WordCheck(word, vocabulary.frequency(word, viewer))
    if check.own <= RARE or scan_common:
        check.best, check.scanned = _best_candidate(vocabulary, word, viewer), True
    return check


def decide(check: WordCheck | None, found: int, vocabulary: Vocabulary, viewer: Viewer) -> str | None:
    """The cheap decision on one checked word, given how many confident hits the search found: the
    correction, if it is worth offering. `vocabulary` and `viewer` serve only a scan left undone."""
    if check is None:
        return None
    own = check.own
    if own > RARE and found > 0:
        return None
    if not check.scanned:
        check.best, check.scanned = _best_candidate(vocabulary, check.word, viewer), True
    best = check.best
    if best is None:
        return None
    df = -best[1]
    if own == 0 or (found == 0 and df >= NOTHING_FOUND_RATIO * own) or df >= FAR_MORE * own:
        return best[2]
    return None


def correction(vocabulary: Vocabulary, word: str, viewer: Viewer, found: int) -> str | None:
    """The best correction of one word (the closest, then the most frequent), if it is worth offering."""
    if len(word) < 3 or not word.isalpha():
        return None
    own = vocabulary.frequency(word, viewer)
    if own > RARE and found > 0:
        return None  # the candidate scan is not needed
    return decide(WordCheck(word, own), found, vocabulary, viewer)


def free_words(q: str | None) -> list[str]:
    """The words of `q` that did-you-mean may correct (free words and words of phrases, 3 letters or more),
    sorted; none for an empty query or one that does not parse (it gets its error, not a suggestion)."""
    if not q or not q.strip():
        return []
    try:
        parsed = parse_query(q)
    except Exception:  # noqa: BLE001 - a query that does not parse gets its error, not a suggestion
        return []
    candidates = {w for text in (*parsed.words, *parsed.phrases) for w in words(text)}
    return sorted(w for w in candidates if len(w) >= 3 and w.isalpha())


@dataclass
class Spelling:
    """The found-independent part of did-you-mean: each correctable word as the vocabulary the viewer may
    see holds it. `corrected` turns it into the suggestion once the search knows `found`."""
    q: str
    viewer: Viewer
    vocabulary: Vocabulary
    checks: list[WordCheck]


def check_spelling(collection: Collection, q: str, viewer: Viewer, candidates: list[str] | None = None,
                   scan_common: bool = False) -> Spelling:
    """The vocabulary look-ups and candidate scans of `q`'s words (`candidates`: free_words(q), if known).
    A common word's scan matters only when the search finds nothing: `scan_common` False leaves it to
    `corrected`, which then runs it (the sequential call of old did the same)."""
    vocabulary = Vocabulary(collection.catalog)
    words_ = free_words(q) if candidates is None else candidates
    checks = [c for w in words_ if (c := check_word(vocabulary, w, viewer, scan_common)) is not None]
    return Spelling(q, viewer, vocabulary, checks)


def corrected(spelling: Spelling | None, found: int) -> str | None:
    """The cheap decision: the whole query with its words corrected as `found` allows, or None."""
    if spelling is None:
        return None
    fixes = {c.word: fixed for c in spelling.checks
             if (fixed := decide(c, found, spelling.vocabulary, spelling.viewer))}
    if not fixes:
        return None

    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        fixed = fixes.get(token.lower())
        if fixed is None:
            return token
        return fixed.capitalize() if token[:1].isupper() else fixed

    # Only outside field:value tokens and -excluded words.
    q = spelling.q
    parts = re.split(r"(\s+)", q)
    out = []
    for part in parts:
        if part.startswith("-") or _FIELD_TOKEN.match(part) or ":" in part:
            out.append(part)
        else:
            out.append(re.sub(r"[^\W_]+", replace, part))
    result = "".join(out)
    return result if result != q else None


def did_you_mean(collection: Collection, q: str | None, viewer: Viewer, found: int) -> str | None:
    """The whole query with its misspelt free words (and words of phrases) corrected from the vocabulary the
    viewer may see, when the search found nothing confident (`found` == 0) or a correction is far more
    frequent; None when nothing needs correcting. Field values and excluded words are left as typed."""
    candidates = free_words(q)
    if not candidates:
        return None
    return corrected(check_spelling(collection, q or "", viewer, candidates), found)


class PendingSuggestion:
    """did-you-mean started with the search and finished after it: `check_spelling` runs beside the channel
    pool (query/concurrent.py's `start_aside`, so no channel waits behind it) while the channels run, and `result(found)` makes the cheap decision at the end.
    Nothing starts for a query without correctable words; without a pool (MEDIASEARCH_CHANNEL_THREADS 0 or
    1) the look-ups run at the end, in the request's thread, as they always did.

        work_ms    what the look-ups and scans took, wherever they ran (Server-Timing `suggest_work`)
        waited_ms  what the response waited for the suggestion at the end (Server-Timing `suggest`)
    """

    def __init__(self, collection: Collection, q: str | None, viewer: Viewer) -> None:
        self.work_ms = 0.0
        self.waited_ms = 0.0
        self._collection, self._q, self._viewer = collection, q or "", viewer
        self._words = free_words(q)
        self._pending: Pending[Spelling] | None = None
        if self._words and channel_threads() > 1:
            self._pending = start_aside(self._work)

    def _work(self) -> Spelling:
        started = time.perf_counter()
        try:
            return check_spelling(self._collection, self._q, self._viewer, self._words)
        finally:
            self.work_ms = round((time.perf_counter() - started) * 1000, 2)

    def result(self, found: int) -> str | None:
        started = time.perf_counter()
        try:
            if not self._words:
                return None
            spelling = self._pending.result() if self._pending is not None else self._work()
            return corrected(spelling, found)
        finally:
            self.waited_ms = round((time.perf_counter() - started) * 1000, 2)
