"""A search box's query vectors, encoded once per text: paging, a facet click, a sort or "show loose" send the
same words again, and the query encoding is the largest part of a hybrid query on a CPU (MiniLM, ~40 ms of ~90
at 100k assets: docs/benchmarks.md). The cache holds the encoders' output for the query text only (nothing of
any asset), per encoder object, in this process; a reloaded encoder is a new key.

It is kept per signed-in viewer, and anonymous queries are not cached at all: a shared cache would tell anyone
who reads Server-Timing's `encode_text` (about 0 ms on a hit) that somebody else searched the same words
lately, a search-history leak between users."""

from collections import OrderedDict
from threading import Lock

import numpy as np

from indexer.access import Viewer
from indexer.collection import Collection

SIZE = 512  # distinct query texts kept (2 x 384-512 float32 each: under 2 MB)

_cache: OrderedDict[tuple[int, int, str, bool, str], tuple[np.ndarray, np.ndarray]] = OrderedDict()
_lock = Lock()


def query_vectors(collection: Collection, text: str, viewer: Viewer) -> tuple[np.ndarray, np.ndarray, bool]:
    """(the cross-modal query vector, the dense text one, whether they came from the cache) for `text` as
    `viewer` asks it; the two are one array when the encoder's text tower is the dense text model."""
    cached = viewer.admin or viewer.username is not None
    key = (id(collection.encoder), id(collection.sentence), text, viewer.admin, viewer.username or "")
    with _lock:
        hit = _cache.get(key) if cached else None
        if hit is not None:
            _cache.move_to_end(key)
            return hit[0], hit[1], True
    cross = collection.encoder.encode_texts([text])[0]
    same_tower = collection.encoder.text_model_id == collection.sentence.id
    dense = cross if same_tower else collection.sentence.encode_texts([text])[0]
    cross.setflags(write=False)
    dense.setflags(write=False)
    if not cached:
        return cross, dense, False
    with _lock:
        _cache[key] = (cross, dense)
        while len(_cache) > SIZE:
            _cache.popitem(last=False)
    return cross, dense, False
