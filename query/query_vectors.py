"""A search box's query vectors, encoded once per text: paging, a facet click, a sort or "show loose" send the
same words again, and the query encoding is the largest part of a hybrid query on a CPU (MiniLM, ~40 ms of ~90
at 100k assets: docs/benchmarks.md). The cache holds the encoders' output for the query text only (nothing of
any asset), per encoder object, in this process; a reloaded encoder is a new key."""

from collections import OrderedDict
from threading import Lock

import numpy as np

from indexer.collection import Collection

SIZE = 512  # distinct query texts kept (2 x 384-512 float32 each: under 2 MB)

_cache: OrderedDict[tuple[int, int, str], tuple[np.ndarray, np.ndarray]] = OrderedDict()
_lock = Lock()


def query_vectors(collection: Collection, text: str) -> tuple[np.ndarray, np.ndarray, bool]:
    """(the cross-modal query vector, the dense text one, whether they came from the cache) for `text`;
    the two are one array when the encoder's text tower is the dense text model."""
    key = (id(collection.encoder), id(collection.sentence), text)
    with _lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            return hit[0], hit[1], True
    cross = collection.encoder.encode_texts([text])[0]
    same_tower = collection.encoder.text_model_id == collection.sentence.id
    dense = cross if same_tower else collection.sentence.encode_texts([text])[0]
    cross.setflags(write=False)
    dense.setflags(write=False)
    with _lock:
        _cache[key] = (cross, dense)
        while len(_cache) > SIZE:
            _cache.popitem(last=False)
    return cross, dense, False
