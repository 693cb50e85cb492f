"""Metadata propagation: annotations an asset lacks, proposed from its nearest annotated neighbours.

What propagates is what our own annotators cannot recompute: annotations written by people (no
model), by outside services (`mediaverse:*`, indexer/media/annotators/external.py) or by hand through the
API. For each asset, its nearest neighbours are found in the vector index of its kind (pictures in
the image space — a video through its keyframes —, texts in the dense space); an asset posted with
the same bytes is a neighbour at similarity 1. Each annotation a neighbour has and the asset lacks
becomes a proposal with a confidence (similarity x the annotation's own confidence), the source asset
and its kind: `duplicate` (similarity >= 0.95: the same picture re-encoded, cropped a little...) or
`similar`. Near-duplicates come first.

Proposals wait in the catalog's `proposals` table (indexer/stores/proposals.py: every API node of a
cluster sees the same ones; an older home's `propagation.sqlite3` is imported once, then renamed
`propagation.sqlite3.imported`) until an editor accepts or rejects them (`mediasearch propagate --accept ID...`); an accepted one is stored on the asset with model
`propagated` and model_version `<kind>@<similarity>`, and from then on belongs to that asset (the
source's id stays in the proposals store, the editor's view). A public asset may feed any asset; a
private one only other private assets of its owner, so propagation never shows a private asset's
words where anyone else could read them. Acceptance checks the source again (it may have gone private).
"""

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np

from indexer.access import ADMIN, Viewer
from indexer.assets import Annotation, Asset, TimeRange
from indexer.collection import SPACE_DENSE, SPACE_IMAGE, Collection
from indexer.errors import InvalidInput, NotFound
from indexer.stores.proposals import NewProposal, ProposalStore

PROPAGATED_MODEL = "propagated"
DUPLICATE_SIMILARITY = 0.95
MIN_SIMILARITY = 0.75
NEIGHBOURS = 5
FILE = "propagation.sqlite3"  # where older homes kept proposals: imported into the catalog once
IMPORTED = FILE + ".imported"


def proposal_store(collection: Collection) -> ProposalStore:
    """The catalog's proposals, after importing (once) the proposals file an older home kept."""
    store = ProposalStore(collection.catalog)
    old = collection.home / FILE
    if old.is_file():
        with collection.write_lock:  # two processes of one home: one imports, the other finds the file gone
            if old.is_file():
                store.import_file(old)
                old.replace(collection.home / IMPORTED)
    return store


@dataclass
class Proposal:
    id: int
    target: str
    source: str
    name: str
    value: str
    confidence: float
    similarity: float
    kind: str
    source_model: str | None
    time: TimeRange | None
    status: str

    def annotation(self) -> Annotation:
        # The source's id stays in the proposals store (the editor's view): shown on the target, it would
        # name another asset to everyone who may see the target, also after the source goes private.
        return Annotation(name=self.name, value=self.value, confidence=round(self.confidence, 4),
                          model=PROPAGATED_MODEL, model_version=f"{self.kind}@{self.similarity:.3f}",
                          time=self.time)


def propagatable(annotation: Annotation) -> bool:
    """People's annotations and outside services': what no annotator of ours would produce again."""
    model = annotation.model
    return model is None or model.startswith("mediaverse:")


def _proposal(row: sqlite3.Row) -> Proposal:
    time = TimeRange(start=row["start_s"], end=row["end_s"]) if row["start_s"] is not None else None
    return Proposal(row["id"], row["target"], row["source"], row["name"], row["value"], row["confidence"],
                    row["similarity"], row["kind"], row["source_model"], time, row["status"])


def _content_vectors(collection: Collection, content_id: int, media_type: str) -> tuple[str, np.ndarray] | None:
    """The vectors that stand for a content: its own, or its keyframes' for a video."""
    catalog = collection.catalog
    space = SPACE_DENSE if media_type == "text" else SPACE_IMAGE
    ids = np.array([content_id], dtype=np.int64)
    if media_type == "video":
        ids = catalog.segment_vector_ids(ids)
    if not len(ids):
        return None
    found, vectors = catalog.vectors(space, ids)
    return (space, vectors) if len(found) else None


def _neighbours(collection: Collection, content_id: int, media_type: str, k: int) -> dict[int, float]:
    """Nearest other contents with their best similarity."""
    got = _content_vectors(collection, content_id, media_type)
    if got is None:
        return {}
    space, vectors = got
    best: dict[int, float] = {}
    for vector in vectors:
        hits = collection.vector_search(space, vector, k + len(vectors) + 1)
        resolved = collection.catalog.resolve_vector_ids(hits.ids)
        for vid, score in zip(hits.ids, hits.scores, strict=True):
            if vid not in resolved:
                continue
            other = resolved[vid][0]
            if other != content_id:
                best[other] = max(best.get(other, -1.0), float(score))
    return dict(sorted(best.items(), key=lambda kv: -kv[1])[:k])


def propose(collection: Collection, k: int = NEIGHBOURS, min_similarity: float = MIN_SIMILARITY,
            asset_ids: Iterable[str] | None = None) -> list[Proposal]:
    """Compute proposals for every asset (or the given ones), store the new ones, return all open ones."""
    catalog = collection.catalog
    rows = {r["id"]: r for r in catalog.iter_assets()}
    targets = list(asset_ids) if asset_ids is not None else list(rows)
    unknown = [t for t in targets if t not in rows]
    if unknown:
        raise NotFound(f"no asset with id '{unknown[0]}'", "check the id")
    assets: dict[str, Asset] = {}

    def asset(asset_id: str) -> Asset:
        if asset_id not in assets:
            assets[asset_id] = catalog.asset_from_row(rows[asset_id], ADMIN)  # the editor's batch job reads all
        return assets[asset_id]

    by_content: dict[int, list[str]] = {}
    for asset_id, row in rows.items():
        by_content.setdefault(row["content_id"], []).append(asset_id)
    now = datetime.now(timezone.utc).isoformat()
    new: list[NewProposal] = []
    neighbours_of: dict[int, dict[int, float]] = {}
    for target_id in targets:
        target_row = rows[target_id]
        target = asset(target_id)
        have = {(a.name, a.value.lower()) for a in target.annotations}
        content_id = target_row["content_id"]
        if content_id not in neighbours_of:
            near = _neighbours(collection, content_id, target_row["media_type"], k)
            neighbours_of[content_id] = {content_id: 1.0, **near}
        for other_content, similarity in neighbours_of[content_id].items():
            if similarity < min_similarity:
                continue
            for source_id in by_content.get(other_content, []):
                source_row = rows[source_id]
                if source_id == target_id:
                    continue
                if not _may_feed(source_row, target_row):
                    continue  # never carry a private asset's metadata where others could see it
                kind = "duplicate" if similarity >= DUPLICATE_SIMILARITY else "similar"
                for a in asset(source_id).annotations:
                    if not propagatable(a) or (a.name, a.value.lower()) in have:
                        continue
                    confidence = similarity * (a.confidence if a.confidence is not None else 1.0)
                    new.append((target_id, source_id, a.name, a.value, round(confidence, 4), round(similarity, 4), kind,
                                a.model, a.time.start if a.time else None, a.time.end if a.time else None, now))
    proposal_store(collection).add_new(new)
    return proposals(collection, "open", targets if asset_ids is not None else None)


def proposals(collection: Collection, status: str | None = "open", targets: Iterable[str] | None = None) -> list[Proposal]:
    """Stored proposals, near-duplicates first, then by confidence."""
    rows = proposal_store(collection).with_status(status)
    wanted = set(targets) if targets is not None else None
    return [_proposal(r) for r in rows if wanted is None or r["target"] in wanted]


def _may_feed(source, target) -> bool:  # noqa: ANN001 - asset rows
    """A public asset may feed any asset; a private one only another private asset of its owner, so
    its words never show where anyone but the owner (and admins) could read them."""
    return source["visibility"] == "public" or (
        target["visibility"] == "private" and source["owner"] == target["owner"])


def _source_still_shared(collection: Collection, proposal: Proposal, target) -> bool:  # noqa: ANN001
    """Checked again when a proposal is accepted: its source may have gone private (or away) since."""
    source = collection.catalog.asset_row(proposal.source)
    return source is not None and _may_feed(source, target)


def decide(collection: Collection, ids: Iterable[int], accept: bool, viewer: Viewer) -> list[Proposal]:
    """Accept (store on the asset, with its provenance) or reject open proposals."""
    from indexer.pipeline.edits import owned_row

    ids = list(dict.fromkeys(int(i) for i in ids))
    if not ids:
        raise InvalidInput("no proposal ids given", "run `mediasearch propagate` to list them")
    store = proposal_store(collection)
    rows = {r["id"]: _proposal(r) for r in store.by_ids(ids)}
    missing = [i for i in ids if i not in rows]
    if missing:
        raise NotFound(f"no proposal {missing[0]}", "run `mediasearch propagate` to list them")
    closed = [p for p in rows.values() if p.status != "open"]
    if closed:
        raise InvalidInput(f"proposal {closed[0].id} is already {closed[0].status}")
    decided = list(rows.values())
    if accept:
        by_target: dict[str, list[Proposal]] = {}
        for p in decided:
            by_target.setdefault(p.target, []).append(p)
        catalog = collection.catalog
        for target, items in by_target.items():
            with collection.write_lock:
                row = owned_row(collection, target, viewer)
                current = catalog.asset_from_row(row, viewer)
                merged = list(current.annotations)
                for p in items:
                    if not _source_still_shared(collection, p, row):
                        raise InvalidInput(f"proposal {p.id}: its source '{p.source}' is gone or private now",
                                           "reject it, or run `mediasearch propagate` again")
                    if p.annotation() not in merged:
                        merged.append(p.annotation())
                with catalog.transaction() as tx:
                    catalog.upsert_asset(tx, current.model_copy(update={"annotations": merged}), row["content_id"])
        collection.sync_lexical()
    now = datetime.now(timezone.utc).isoformat()
    store.set_status([p.id for p in decided], "accepted" if accept else "rejected", now)
    for p in decided:
        p.status = "accepted" if accept else "rejected"
    return decided
