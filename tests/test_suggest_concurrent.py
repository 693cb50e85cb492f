"""Did-you-mean off the search's critical path (issue 15): its vocabulary look-ups start on the channel pool
with the search and its decision comes at the end with `found`. The suggestion is exactly what the sequential
call of old gives (kept below, verbatim, as the reference), for every kind of query, for a viewer, for
anonymous and for another user; Server-Timing shows both what the response waited (`suggest`) and what the
look-ups took (`suggest_work`)."""

import re

import pytest
from conftest import sample_collection

from indexer.access import Viewer
from indexer.assets import AssetInput
from indexer.pipeline.ingest import ingest
from indexer.stores.vocabulary import Vocabulary, words
from query import SearchRequest, search
from query.language import parse_query
from query.suggest import (
    _FIELD_TOKEN,
    FAR_MORE,
    NOTHING_FOUND_RATIO,
    RARE,
    VOWELS,
    PendingSuggestion,
    did_you_mean,
    edit_distance,
)

ANON, ALICE, BOB = Viewer(), Viewer(username="alice"), Viewer(username="bob")

QUERIES = ["astronot", "Astronot on the moon", "astronaut", "a cat in the grass", "xqzvbnm wqplk",
           "\"astronot portrait\"", "owner:astronot -astronot", "tag:spase rokcet", "cofee -cofee", "cofee cup",
           "zorblat", "quarantely", "zorblatt harbour", "Quarantelli zorblat plans", "rockett", "type:image",
           "astronot type:image", "", "   ", "a", "hte", "coffee OR astronot", "astronot label:cat", "moon landing"]


def old_correction(vocabulary: Vocabulary, word: str, viewer: Viewer, found: int) -> str | None:
    """query/suggest.py's correction() before issue 15's split, verbatim."""
    if len(word) < 3 or not word.isalpha():
        return None
    own = vocabulary.frequency(word, viewer)
    if own > RARE and found > 0:
        return None
    bound = 1 if len(word) <= 4 else 2
    best: tuple[float, int, str] | None = None
    prefixes = [word[0]] if len(word) < 5 else [word[:2], word[1] + word[0]]
    candidates = [c for p in dict.fromkeys(prefixes)
                  for c in vocabulary.words_starting(p, viewer, len(word) - bound, len(word) + bound)]
    consonants = set(word) - VOWELS
    for term, df in candidates:
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


def old_did_you_mean(collection, q: str | None, viewer: Viewer, found: int) -> str | None:
    """query/suggest.py's did_you_mean() before issue 15's split, verbatim."""
    if not q or not q.strip():
        return None
    try:
        parsed = parse_query(q)
    except Exception:  # noqa: BLE001
        return None
    vocabulary = Vocabulary(collection.catalog)
    candidates = {w for text in (*parsed.words, *parsed.phrases) for w in words(text)}
    fixes = {w: fixed for w in sorted(candidates) if (fixed := old_correction(vocabulary, w, viewer, found))}
    if not fixes:
        return None

    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        fixed = fixes.get(token.lower())
        if fixed is None:
            return token
        return fixed.capitalize() if token[:1].isupper() else fixed

    parts = re.split(r"(\s+)", q)
    out = []
    for part in parts:
        if part.startswith("-") or _FIELD_TOKEN.match(part) or ":" in part:
            out.append(part)
        else:
            out.append(re.sub(r"[^\W_]+", replace, part))
    corrected = "".join(out)
    return corrected if corrected != q else None


@pytest.fixture(scope="module")
def sample(tmp_path_factory, bundled_encoder):
    """The demo's sample collection, and private assets of alice's with words nobody else has (one of them a
    near miss of a public word, "cofee", so that a private spelling never changes what others are offered)."""
    collection = sample_collection(tmp_path_factory.mktemp("suggest-concurrent") / "home", bundled_encoder)
    ingest(collection, [AssetInput(id="alice-diary", owner="alice", visibility="private", title="Quarantelli plans",
                                   text="Zorblatt meets quarantelli at the harbour", tags=["zorbtag"]),
                        AssetInput(id="alice-cofee", owner="alice", visibility="private", text="cofee cofee rokcet")])
    yield collection
    collection.close()


@pytest.mark.parametrize("threads", ["4", "0"], ids=["pool", "sequential"])
@pytest.mark.parametrize("viewer", [ANON, ALICE, BOB], ids=["anonymous", "alice", "bob"])
def test_the_suggestion_is_the_sequential_one_of_old(sample, monkeypatch, viewer, threads):
    monkeypatch.setenv("MEDIASEARCH_CHANNEL_THREADS", threads)
    for q in QUERIES:
        response = search(sample, SearchRequest(q=q, k=5), viewer)
        assert response.did_you_mean == old_did_you_mean(sample, q, viewer, response.found), q
        assert {"suggest", "suggest_work"} <= set(response.timings_ms), q
        for found in (0, 1, 3, 100):
            expected = old_did_you_mean(sample, q, viewer, found)
            assert PendingSuggestion(sample, q, viewer).result(found) == expected, (q, found)
            assert did_you_mean(sample, q, viewer, found) == expected, (q, found)


def test_the_cases_that_matter_are_among_them(sample):
    """The comparison above is not vacuous: it holds corrections, refusals and private words."""
    assert old_did_you_mean(sample, "Astronot on the moon", ANON, 0) == "Astronaut on the moon"
    assert old_did_you_mean(sample, "zorblat", ALICE, 0) == "zorblatt"
    assert old_did_you_mean(sample, "zorblat", BOB, 0) is None
    assert old_did_you_mean(sample, "owner:astronot -astronot", ANON, 0) is None


def test_no_work_without_correctable_words_and_timings_truthful(sample, monkeypatch):
    monkeypatch.setenv("MEDIASEARCH_CHANNEL_THREADS", "4")
    for q in ("type:image", "owner:demo -cat", "", "a b", "\"x\""):
        pending = PendingSuggestion(sample, q, ANON)
        assert pending._pending is None and pending.result(0) is None and pending.work_ms == 0.0, q
    response = search(sample, SearchRequest(q="type:image", k=5), ANON)
    assert response.timings_ms["suggest_work"] == 0.0
    pending = PendingSuggestion(sample, "astronot", ANON)
    assert pending._pending is not None
    assert pending.result(0) == "astronaut"
    assert pending.work_ms > 0 and pending.waited_ms >= 0
    monkeypatch.setenv("MEDIASEARCH_CHANNEL_THREADS", "0")
    pending = PendingSuggestion(sample, "astronot", ANON)
    assert pending._pending is None and pending.work_ms == 0.0
    assert pending.result(0) == "astronaut" and pending.work_ms > 0


def test_server_timing_shows_the_wait_and_the_work(sample, monkeypatch):
    from fastapi.testclient import TestClient

    from api.app import create_app

    monkeypatch.setenv("MEDIASEARCH_CHANNEL_THREADS", "4")
    with TestClient(create_app(collection=sample)) as client:
        r = client.get("/v1/search", params={"q": "astronot", "k": 3})
        assert r.status_code == 200 and r.json()["did_you_mean"] == "astronaut"
        timing = dict(part.split(";dur=") for part in r.headers["server-timing"].split(", "))
        assert float(timing["suggest_work"]) > 0 and float(timing["suggest"]) >= 0
