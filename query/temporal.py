"""Temporal queries (VISIONE's, AI4Media D5.4 section 5.18): one query for a moment of a video and a
second for a later moment of the same video.

    rocket launch THEN astronaut within:30s
    colour:red@center THEN colour:blue@center within:10s type:video

`THEN` (in capitals, outside quotes) splits the search box in two parts, each in the full query language
(words, phrases, exclusions, filters); `within:` (anywhere; seconds, `30s`, `2m`; default 60 s, at most
one hour) is the longest gap from the end of the first moment to the start of the second.

Moments are a video's shots (indexer/media/shots.py). A shot matches a part when
  - the part's canvas filters (colour:red@top-left, face@center) hold in that shot's keyframe, and its
    label filters in that shot's labels (the annotations timed to the shot), and
  - the part has no words, or some of its words appear in the annotations timed to the shot (keyframe
    labels, on-screen text, speech, a time-coded note of the asset shown) or the keyframe's vector is
    close enough to the words (the text_to_image channel's calibration says relevant at p >= 0.5).
Every other filter applies to the whole video. A video is a hit when a shot matching the first part
is followed, within the window, by a later shot matching the second; its score is the best pair's
(each shot: share of the words found + calibrated keyframe similarity), and the hit shows both moments.

Privacy: each copy of a video the viewer may see is matched by its own annotations (and those derived
from its bytes) only, and the hit is that copy; another copy's notes never make a video match.
"""

import re
from dataclasses import dataclass

import numpy as np

from indexer.access import Viewer
from indexer.assets import MediaType
from indexer.collection import SPACE_IMAGE, Collection
from indexer.errors import InvalidInput
from indexer.filters import Filters, TermFilter
from indexer.stores.catalog_moments import visible_assets
from indexer.stores.catalog_schema import SEGMENT_ID_BASE
from query.language import ParsedQuery, QuerySyntaxError, clean, parse_query, tokens
from query.profile import load_profile

DEFAULT_WINDOW = 60.0
MAX_WINDOW = 3600.0
OPERATOR = "THEN"
_WINDOW = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|sec|secs|seconds?|m|min|mins|minutes?)?$", re.IGNORECASE)
# Words that say nothing about a moment (the lexical stores drop them too).
_STOP = frozenset("a an and are as at be but by for if in into is it no not of on or such that the their then there "
                  "these they this to was will with".split())
# A shot's keyframe similarity counts when the calibrated probability of relevance reaches this.
MIN_PROBABILITY = 0.5
SEGMENT_FILTERS = ("canvas", "label")


@dataclass
class TemporalQuery:
    first: ParsedQuery
    second: ParsedQuery
    window: float
    texts: tuple[str, str]


def split_temporal(query: str | None) -> TemporalQuery | None:
    """The two parts and the window of a THEN query; None when the query has no THEN (a `within:`
    without THEN is then refused by parse_query). Mistakes raise QuerySyntaxError."""
    if not query or OPERATOR not in query:
        return None
    query = clean(query)
    thens: list[re.Match] = []
    windows: list[re.Match] = []
    for match in tokens(query):
        if match.group("word") == OPERATOR and match.group("neg") is None:
            thens.append(match)
        elif match.group("field") is not None and match.group("field").lower() == "within":
            windows.append(match)
    if not thens:
        return None
    if len(thens) > 1:
        raise QuerySyntaxError("one THEN per query", query, thens[1].start(), len(OPERATOR),
                               hint="search for two moments: first part THEN second part within:30s")
    if len(windows) > 1:
        raise QuerySyntaxError("one within: per query", query, windows[1].start(), len(windows[1].group(0)))
    window = DEFAULT_WINDOW
    if windows:
        w = windows[0]
        value = w.group("fquoted") if w.group("fquoted") is not None else (w.group("fvalue") or "")
        window = _window(value, query, w)
    then = thens[0]
    cut = sorted([(then.start(), then.end()), *[(w.start(), w.end()) for w in windows]])
    left = _without(query[: then.start()], [(s, e) for s, e in cut if e <= then.start()])
    right = _without(query[then.end():], [(s - then.end(), e - then.end()) for s, e in cut if s >= then.end()])
    if not left.strip() or not right.strip():
        side = "before" if not left.strip() else "after"
        raise QuerySyntaxError(f"THEN needs a query {side} it", query, then.start(), len(OPERATOR),
                               hint="e.g. rocket launch THEN astronaut within:30s")
    return TemporalQuery(first=_part(left), second=_part(right), window=window, texts=(left.strip(), right.strip()))


def _without(text: str, spans: list[tuple[int, int]]) -> str:
    for start, end in sorted(spans, reverse=True):
        text = text[:start] + " " * (end - start) + text[end:]
    return text


def _part(text: str) -> ParsedQuery:
    parsed = parse_query(text)
    if not (parsed.text or parsed.filters.terms or parsed.filters.ranges):
        raise QuerySyntaxError("each side of THEN needs words or filters", text, 0, len(text),
                               hint="e.g. rocket launch THEN astronaut within:30s")
    return parsed


def _window(value: str, query: str, match: re.Match) -> float:
    found = _WINDOW.match(value.strip())
    if found is None:
        raise QuerySyntaxError(f"within: needs a duration, not '{value}'", query, match.start(), len(match.group(0)),
                               hint="seconds or minutes, e.g. within:30s, within:90, within:2m")
    seconds = float(found.group(1)) * (60.0 if (found.group(2) or "s").lower().startswith("m") else 1.0)
    if not 0 < seconds <= MAX_WINDOW:
        raise QuerySyntaxError(f"within: must be more than 0 and at most {MAX_WINDOW:.0f} s, not {seconds:g} s",
                               query, match.start(), len(match.group(0)), hint="e.g. within:30s")
    return seconds


@dataclass
class Moment:
    start: float
    end: float
    score: float


@dataclass
class TemporalHit:
    content_id: int
    asset_id: str
    score: float
    first: Moment
    second: Moment


def _words(parsed: ParsedQuery) -> list[str]:
    return [w for w in dict.fromkeys(w.lower() for w in parsed.words) if w not in _STOP]


_WORD = re.compile(r"\w+")


def _stem(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def _segment_filters(parsed: ParsedQuery) -> list[TermFilter]:
    return [t for t in parsed.filters.terms if t.field in SEGMENT_FILTERS]


def _video_filters(parsed: ParsedQuery) -> Filters:
    return Filters(terms=parsed.filters.terms, ranges=parsed.filters.ranges)


def _shot_matches(collection: Collection, parsed: ParsedQuery, shots: list, notes: list, vectors: dict[int, np.ndarray],
                  query_vector: np.ndarray | None, calibration) -> list[Moment]:  # noqa: ANN001
    """The shots of one video that match one part, each with its score."""
    words = _words(parsed)
    phrases = [p.lower() for p in parsed.phrases]
    excluded = [x.lower() for x in parsed.excluded]
    wanted = _segment_filters(parsed)
    out = []
    for shot in shots:
        start, end = shot["start_s"], shot["end_s"]
        during = [n for n in notes if n.time is not None and n.time.start < end and n.time.end > start]
        if not all(_holds(f, during) for f in wanted):
            continue
        text = " ".join(n.value.lower() for n in during if n.name != "canvas")
        found = {_stem(w) for w in _WORD.findall(text)}
        if any(x in text if " " in x else _stem(x) in found for x in excluded):
            continue
        lexical = 0.0
        if words or phrases:
            hits = sum(_stem(w) in found for w in words) + sum(p in text for p in phrases)
            lexical = hits / (len(words) + len(phrases))
        similarity = 0.0
        vector = vectors.get(shot["id"])
        if query_vector is not None and vector is not None:
            cosine = float(vector @ query_vector)
            similarity = calibration.probability(cosine) if calibration is not None else max(0.0, cosine)
            if similarity < MIN_PROBABILITY:
                similarity = 0.0
        if (words or phrases) and lexical == 0.0 and similarity == 0.0:
            continue
        if phrases and not all(p in text for p in phrases) and similarity == 0.0:
            continue
        out.append(Moment(start=start, end=end, score=lexical + similarity if (words or phrases) else 1.0))
    return out


def _holds(f: TermFilter, during: list) -> bool:  # noqa: ANN001 - annotations
    name = "canvas" if f.field == "canvas" else "label"
    values = {n.value.lower() for n in during if n.name == name}
    present = any(v.lower() in values for v in f.values)
    return not present if f.negate else present


def temporal_hits(collection: Collection, query: TemporalQuery, viewer: Viewer, filters: Filters | None = None,
                  ) -> tuple[list[TemporalHit], int]:
    """Videos with a moment matching the first part followed, within the window, by one matching the
    second; best first. Also returns how many videos were examined."""
    both = _video_filters(query.first).merged(_video_filters(query.second)).merged(filters or Filters())
    both = both.merged(Filters(terms=[TermFilter(field="type", values=["video"])]))
    # Exclusions hold per moment (a shot with an excluded word does not match), not for the whole video.
    catalog = collection.catalog
    content_ids = catalog.filtered_content_ids(viewer, both, media_types=[MediaType.video])
    profile, _ = load_profile(catalog, collection.encoder.id)
    calibration = None
    if profile is not None and "text_to_image" in profile.calibrations:
        calibration = profile.calibrations["text_to_image"].calibration()
    texts = [part.text for part in (query.first, query.second) if part.text]
    encoded = iter(collection.encoder.encode_texts(texts) if texts else [])  # both parts in one batch
    vectors_of = [next(encoded) if part.text else None for part in (query.first, query.second)]
    best_of: dict[int, TemporalHit] = {}
    shots_of: dict[int, tuple[list, dict[int, np.ndarray]]] = {}
    # Each copy the viewer may see is matched by its own annotations (and those derived from the bytes);
    # the best copy stands for the content, the newest on a tie.
    for row in visible_assets(catalog, content_ids.tolist(), viewer, both):
        content_id = row["content_id"]
        if content_id not in shots_of:
            shots = catalog.segments(content_id)
            keyframes: dict[int, np.ndarray] = {}
            if shots and any(v is not None for v in vectors_of):
                found, rows = catalog.vectors(SPACE_IMAGE, np.array([SEGMENT_ID_BASE + s["id"] for s in shots], dtype=np.int64))
                keyframes = {int(i) - SEGMENT_ID_BASE: v for i, v in zip(found.tolist(), rows, strict=True)}
            shots_of[content_id] = (shots, keyframes)
        shots, keyframes = shots_of[content_id]
        if not shots:
            continue
        notes = catalog.annotations(row["rowid"])  # this asset's own and derived annotations only
        firsts = _shot_matches(collection, query.first, shots, notes, keyframes, vectors_of[0], calibration)
        if not firsts:
            continue
        seconds = _shot_matches(collection, query.second, shots, notes, keyframes, vectors_of[1], calibration)
        best: tuple[float, Moment, Moment] | None = None
        for a in firsts:
            for b in seconds:
                if b.start >= a.end - 1e-3 and b.start - a.end <= query.window + 1e-6:
                    score = a.score + b.score
                    if best is None or score > best[0]:
                        best = (score, a, b)
        if best is not None and (content_id not in best_of or best[0] >= best_of[content_id].score):
            best_of[content_id] = TemporalHit(content_id=content_id, asset_id=row["id"], score=best[0],
                                              first=best[1], second=best[2])
    hits = list(best_of.values())
    hits.sort(key=lambda h: (-h.score, h.first.start, h.asset_id))
    return hits, len(content_ids)


def refuse_image(image: object) -> None:
    if image is not None:
        raise InvalidInput("a THEN query searches videos by words and filters, not by a picture",
                           "leave the picture out, or search by picture without THEN")

