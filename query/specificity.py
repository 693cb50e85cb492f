"""Nonsense queries find nothing confident (issue 17, point 1): the query-specificity test.

A cosine cut-off alone lets nonsense through: an encoder maps "xylophone quantum" somewhere, and the
pictures nearest to that point score like weak real matches (on the demo sample, Greek coins at 0.21 and a
wall texture at 0.18, above text_to_image's cut-off of 0.17, while "astronaut" puts the astronaut's portrait
at 0.25 behind a microscope slide at 0.29). What tells them apart is not the level of the best score but
whether anything *stands out*: a query that means something in this collection puts a few items far above
the rest of the collection; a nonsense query scores everything alike.

So a query is *nonsense* when both hold:
  - none of its words is in the vocabulary the viewer may see (indexer/stores/vocabulary.py: titles,
    descriptions, tags, texts, and annotations above their confidence floor), and
  - in no vector channel does the best hit stand out of the channel's background: its robust z-score
    (best - median) / (1.4826 * MAD) over the query's scores against a sample of the vectors the viewer may
    see is under `noise_z(n)` = sqrt(2 ln n) + NOISE_MARGIN, n the vectors searched: the best of n draws of
    noise lies near sqrt(2 ln n) standard deviations above the middle, so a larger collection needs a
    larger lead.
Then the vector channels make nothing confident (their hits stay, loose); BM25 keeps its own cut-off (its
matches are words the collection holds, e.g. a stem of a vocabulary word, or a guess under its floor).
A query with a word the collection knows is never nonsense, so real queries keep their hits; one with no
known word whose best picture stands out ("kitten" on the sample, z = 5.2) keeps it too.

NOISE_MARGIN = 1.5, measured (bench/cutoff_quality.py; docs/quality.md, "Nonsense queries"): on the demo
sample (16 pictures, so noise_z = 3.85) five nonsense pairs reached z = 3.2 at most in any channel, real
queries without a word in the vocabulary 4.75 ("a dog") and 5.15 ("kitten"); on 100 Flickr8k images and 400
captions (noise_z = 4.96 for dense_text), 30 pseudo-word pairs reached 4.48 at most, while pairs of
ImageNet class names, words the encoders know ("borzoi", "dalmatian" near photos of dogs), reach 6.4.
"""

from collections.abc import Callable

import numpy as np

from indexer.access import Viewer
from indexer.collection import Collection
from indexer.stores.catalog_schema import SEGMENT_ID_BASE
from indexer.stores.vocabulary import STOP_WORDS, Vocabulary, words
from query.channels import VECTOR_CHANNELS, ChannelResult
from query.language import ParsedQuery

NOISE_MARGIN = 1.5
BACKGROUND = 1024  # vectors sampled for the background scores
# Fewer vectors than this in a channel: nothing can be said to stand out (the median absolute deviation of
# a handful of scores is itself noise), so the channel does not vote. At 8 (the first choice), real queries on
# the 8 pictures and 8 captions of D3.2's Table 22 ("motorbike", the page's own caption) were called nonsense.
MIN_BACKGROUND = 16


def query_words(parsed: ParsedQuery) -> list[str]:
    """The query's free words and words of phrases, as the vocabulary keeps them (stop words left out)."""
    return [w for text in (*parsed.words, *parsed.phrases) for w in words(text) if w not in STOP_WORDS]


def known_word(collection: Collection, parsed: ParsedQuery, viewer: Viewer) -> bool | None:
    """Whether some word of the query is in the vocabulary the viewer may see; None when the query has no
    word the vocabulary could hold (only digits, one letter, stop words, or no words at all)."""
    candidates = query_words(parsed)
    if not candidates:
        return None
    vocabulary = Vocabulary(collection.catalog)
    return any(vocabulary.frequency(w, viewer) > 0 for w in dict.fromkeys(candidates))


def noise_z(n: int) -> float:
    """The z-score the best of n vectors must reach to stand out of noise."""
    return float(np.sqrt(2 * np.log(max(n, 2)))) + NOISE_MARGIN


def stand_out(best: float, background: np.ndarray) -> float:
    """The robust z-score of `best` over `background` (the median and the scaled median absolute deviation)."""
    median = float(np.median(background))
    mad = float(np.median(np.abs(background - median))) * 1.4826
    return (best - median) / mad if mad > 1e-9 else (float("inf") if best > median + 1e-6 else 0.0)


def _background(collection: Collection, space: str, query: np.ndarray, allowed: np.ndarray | None,
                denied: np.ndarray | None = None, check: Callable[[np.ndarray], set[int]] | None = None,
                ) -> tuple[np.ndarray, int]:
    """The query's scores against up to BACKGROUND vectors of `space` the viewer may see (a fixed sample),
    and how many vectors the viewer may see there: `allowed` content ids, or every content id but the
    `denied` ones (the same population both ways: keyframes left out), the sample then kept to what `check`
    says the viewer may use now (a content written after the denied list was read is not in it)."""
    if allowed is None:
        index = collection.indexes[space]
        ids = index.floats.ids() if index.floats is not None else index.ids()
        total = len(ids)
        if denied is not None:
            ids = np.sort(ids[ids < SEGMENT_ID_BASE])
            where = np.searchsorted(ids, denied)
            held = where < len(ids)
            total = len(ids) - int(np.count_nonzero(ids[where[held]] == denied[held]))
    else:
        ids = np.asarray(allowed, dtype=np.int64)
        total = len(ids)
    if len(ids) > BACKGROUND:
        ids = np.sort(np.random.default_rng(0).choice(ids, BACKGROUND, replace=False))
    if denied is not None and len(denied):
        ids = ids[~np.isin(ids, denied)]
    if check is not None and len(ids):
        keep = check(ids)
        ids = ids[np.isin(ids, np.fromiter(keep, dtype=np.int64, count=len(keep)))]
    if not len(ids):
        return np.zeros(0, dtype=np.float32), total
    _, vectors = collection.stored_vectors(space, ids)
    if not len(vectors):
        return np.zeros(0, dtype=np.float32), total
    return vectors @ np.asarray(query, dtype=np.float32).reshape(-1), total


def lead(collection: Collection, results: dict[str, ChannelResult],
         query_vectors: dict[str, tuple[str, np.ndarray]], allowed: np.ndarray | None,
         denied: np.ndarray | None = None, check: Callable[[np.ndarray], set[int]] | None = None) -> float | None:
    """The largest margin by which a vector channel's best hit stands out of noise (its robust z-score
    minus noise_z); None when no channel had enough background to tell."""
    out: float | None = None
    for name, (space, query) in query_vectors.items():
        result = results.get(name)
        if name not in VECTOR_CHANNELS or result is None or result.skipped or not result.hits:
            continue
        background, total = _background(collection, space, query, allowed, denied, check)
        if len(background) < MIN_BACKGROUND:
            continue
        margin = stand_out(max(s for _, s in result.hits), background) - noise_z(total)
        out = margin if out is None else max(out, margin)
    return out


def nonsense(collection: Collection, parsed: ParsedQuery, viewer: Viewer, results: dict[str, ChannelResult],
             query_vectors: dict[str, tuple[str, np.ndarray]], allowed: np.ndarray | None,
             denied: np.ndarray | None = None) -> bool:
    """No word of the query is known to the viewer's collection and nothing stands out in any vector channel
    (searched within `allowed` content ids, or all but the `denied` ones)."""
    if known_word(collection, parsed, viewer) is not False:
        return False
    check = None
    if allowed is None and (not viewer.admin or parsed.excluded):  # the denied path: check the sample
        def check(ids: np.ndarray) -> set[int]:
            return collection.allowed_among(ids.tolist(), viewer, parsed.excluded)
    margin = lead(collection, results, query_vectors, allowed, denied, check)
    return margin is not None and margin < 0
