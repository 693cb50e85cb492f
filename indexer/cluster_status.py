"""What `mediasearch status` shows of a node in cluster mode (issue 16, point 7): the catalog back end, the
OpenSearch cluster's health when the lexical store is OpenSearch, this node's vector-log lag and the
lexical outbox backlog. Read BEFORE the status catches the node up, so the lag is what searches would meet.

    catalog      sqlite or postgresql, and where (a URL without its password)
    opensearch   None unless the lexical store is OpenSearch; else its cluster's status (green, yellow, red,
                 or unreachable with the error), number of nodes and data nodes, active and unassigned shards
    vector_lag   per FAISS space of this node: the catalog's last vector_log seq, the index's applied seq,
                 how many entries of that space are still to replay (pending), and the lag in seqs (the
                 catalog's last seq minus the applied one; 0 when nothing is pending, as an index's applied
                 seq stops at the last entry of its own space); and the same for the index as saved in the
                 home (saved_seq, saved_pending: what this node replays when it restarts). A `mediasearch
                 status` command opens its own copy of the indexes, caught up on opening, so its in-memory
                 lag is ~0; the saved figures are the ones that describe the home beside a serving node.
    outbox       the lexical_log entries the lexical store has not applied (0 for the catalog's own FTS5)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from indexer.errors import MediasearchError


def opensearch_health(store: Any) -> dict[str, Any]:
    try:
        health = store.cluster_health()
    except MediasearchError as exc:
        return {"status": "unreachable", "nodes": 0, "data_nodes": 0, "error": exc.message}
    return {"status": health.get("status", "unknown"), "nodes": health.get("number_of_nodes", 0),
            "data_nodes": health.get("number_of_data_nodes", 0), "active_shards": health.get("active_shards", 0),
            "unassigned_shards": health.get("unassigned_shards", 0), "cluster_name": health.get("cluster_name"),
            "error": None}


def saved_applied_seq(path: Path) -> int | None:
    """The applied seq in a saved FAISS index's header line (indexer/stores/vectors.py), None when unsaved."""
    try:
        with path.open("rb") as fh:
            return int(json.loads(fh.readline())["applied_seq"])
    except (OSError, ValueError, KeyError):
        return None


def cluster_status(collection: Any) -> dict[str, Any]:  # noqa: ANN401 - a Collection (which imports this module)
    catalog = collection.catalog
    last = catalog.last_seq()
    lag = {}
    for space, index in collection.indexes.items():
        applied = int(index.applied_seq)
        pending = int(catalog.vector_log_backlog(space, applied))
        # An index's applied seq stops at its own space's last entry: with nothing to replay it is not behind.
        saved = saved_applied_seq(collection.home / "indexes" / f"{space}.faiss")
        lag[space] = {"catalog_seq": last, "applied_seq": applied, "lag": max(0, last - applied) if pending else 0,
                      "pending": pending, "saved_seq": saved,
                      "saved_pending": None if saved is None else int(catalog.vector_log_backlog(space, saved))}
    sync = collection.lexical_sync
    store = collection.lexical
    return {
        "catalog": catalog.backend(),
        "opensearch": opensearch_health(store) if store.name == "opensearch" else None,
        "vector_lag": lag,
        "outbox": {"store": store.name, "backlog": int(sync.backlog()) if sync is not None else 0},
    }
