"""Suggestions from the collection's own vocabulary, as the viewer may see it (indexer/stores/vocabulary.py):

  suggest       autocomplete of words, phrases (titles), labels, tags and owners (GET /v1/suggest)
  did_you_mean  the whole query with its misspelt words corrected: fuzzy terms within edit distance 1-2,
                the most frequent of the closest winning (SearchResponse.did_you_mean)

Private means private: both read only the public scope and the viewer's own, so a word that occurs only in
someone else's private asset is never suggested, corrected to, or counted.
"""

import re

from pydantic import BaseModel, Field

from indexer.access import Viewer
from indexer.collection import Collection
from indexer.stores.vocabulary import KINDS, MAX_TERM, Vocabulary, words
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


def correction(vocabulary: Vocabulary, word: str, viewer: Viewer, found: int) -> str | None:
    """The best correction of one word (the closest, then the most frequent), if it is worth offering."""
    if len(word) < 3 or not word.isalpha():
        return None
    own = vocabulary.frequency(word, viewer)
    if own > RARE and found > 0:
        return None
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
    if best is None:
        return None
    df = -best[1]
    if own == 0 or (found == 0 and df >= NOTHING_FOUND_RATIO * own) or df >= FAR_MORE * own:
        return best[2]
    return None


def did_you_mean(collection: Collection, q: str | None, viewer: Viewer, found: int) -> str | None:
    """The whole query with its misspelt free words (and words of phrases) corrected from the vocabulary the
    viewer may see, when the search found nothing confident (`found` == 0) or a correction is far more
    frequent; None when nothing needs correcting. Field values and excluded words are left as typed."""
    if not q or not q.strip():
        return None
    try:
        parsed = parse_query(q)
    except Exception:  # noqa: BLE001 - a query that does not parse gets its error, not a suggestion
        return None
    vocabulary = Vocabulary(collection.catalog)
    candidates = {w for text in (*parsed.words, *parsed.phrases) for w in words(text)}
    fixes = {w: fixed for w in sorted(candidates) if (fixed := correction(vocabulary, w, viewer, found))}
    if not fixes:
        return None

    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        fixed = fixes.get(token.lower())
        if fixed is None:
            return token
        return fixed.capitalize() if token[:1].isupper() else fixed

    # Only outside field:value tokens and -excluded words.
    parts = re.split(r"(\s+)", q)
    out = []
    for part in parts:
        if part.startswith("-") or _FIELD_TOKEN.match(part) or ":" in part:
            out.append(part)
        else:
            out.append(re.sub(r"[^\W_]+", replace, part))
    corrected = "".join(out)
    return corrected if corrected != q else None
