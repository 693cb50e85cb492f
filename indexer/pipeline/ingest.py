"""The ingest pipeline: validate, deduplicate, encode, annotate, store.

Items are prepared one by one (indexer/pipeline/intake.py; a bad item is rejected
with its reason and the batch goes on), encoded in batches, and each asset is written in a single
catalog transaction together with its vectors; the FAISS indexes then catch up
from the catalog's change log.
"""

import logging
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from indexer.access import Viewer
from indexer.assets import EDITABLE_FIELDS, Asset, AssetInput, MediaType, TimeRange, metadata_of
from indexer.collection import SPACE_DENSE, SPACE_IMAGE, SPACE_TEXT, Collection
from indexer.errors import MediasearchError
from indexer.media.annotators import ImageItem, load_annotators, run_annotators
from indexer.media.annotators.canvas import canvas_annotations
from indexer.media.decoding import media_type_for_path, thumbnail_bytes
from indexer.media.encoders.imagenet import FEATURE_MODEL, shared_classifier
from indexer.pipeline.adapters.switch import with_adapted
from indexer.pipeline.intake import NOTE_ANNOTATION, Prepared, decode_ahead, discard, prepare, taken
from indexer.stores import files
from indexer.stores.adapter_versions import active_adapter
from indexer.stores.catalog_schema import SEGMENT_ID_BASE

BATCH_SIZE = 32
log = logging.getLogger(__name__)
KEYFRAMES_PER_BATCH = 128  # a batch of videos is encoded once this many keyframes wait (memory)
# What a post sets on an asset: posting the same bytes again with all of these unchanged is `unchanged`.
POSTED_FIELDS = ("media_type", *EDITABLE_FIELDS, "source", "annotations", "created_at")


class IngestStatus(StrEnum):
    added = "added"
    updated = "updated"
    unchanged = "unchanged"
    rejected = "rejected"


@dataclass
class IngestOutcome:
    id: str
    status: IngestStatus
    reason: str | None = None
    duplicate_of: list[str] = field(default_factory=list)
    name: str = ""
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage spent on this item


def stage_totals(outcomes: Iterable[IngestOutcome]) -> dict[str, float]:
    """Seconds per ingest stage over many outcomes (probe, segment, keyframes, transcribe, classify, ...)."""
    totals: dict[str, float] = {}
    for outcome in outcomes:
        for stage, seconds in outcome.timings.items():
            totals[stage] = round(totals.get(stage, 0.0) + seconds, 4)
    return totals


def _encode(collection: Collection, batch: Sequence[Prepared]) -> None:
    """Encode and annotate the new contents of a batch (duplicates reuse what is stored).

    Pictures (images and video keyframes) go through EfficientNet-Lite0 once: its probabilities
    feed both the bundled encoder's ConSE vector and the `labels` annotator. Then the annotators
    chosen in MEDIASEARCH_ANNOTATORS run over the whole batch; a keyframe's annotations keep the
    time range of its shot."""
    fresh: dict[str, Prepared] = {}
    for p in batch:
        if p.existing_content is None or p.shadow:
            fresh.setdefault(p.content_hash, p)
    texts = [p for p in fresh.values() if p.text is not None]
    # (prepared item, shot index or None, picture item)
    pictures: list[tuple[Prepared, int | None, ImageItem]] = []
    for p in fresh.values():
        if p.image is not None:
            pictures.append((p, None, ImageItem(image=p.image, data=p.item.data, format=p.image_format)))
        elif p.media is not None:
            pictures += [(p, n, ImageItem(image=shot.keyframe)) for n, shot in enumerate(p.media.shots)
                         if shot.keyframe is not None]
    stage_seconds: dict[str, float] = {}
    if pictures:
        settings = collection.settings
        annotators = load_annotators(settings.annotators, collection.encoder, settings.clip_vocabulary)
        images = [item.image for _, _, item in pictures]
        embed = getattr(collection.encoder, "embed_probabilities", None)
        started = time.perf_counter()
        if embed is not None or any(a.name == "labels" for a in annotators):
            # The same forward pass gives the pooled features that adapters learn from (indexer/pipeline/adapters/).
            probabilities, features = shared_classifier(collection.device).predict_with_features(images)
            for (p, n, item), probs, feats in zip(pictures, probabilities, features, strict=True):
                item.probabilities = probs
                if embed is not None:
                    p.features[n] = feats
        stage_seconds["classify"] = time.perf_counter() - started
        started = time.perf_counter()
        vectors = embed(probabilities) if embed is not None else collection.encoder.encode_images(images)
        stage_seconds["embed"] = time.perf_counter() - started
        for (p, n, item), vector in zip(pictures, vectors, strict=True):
            item.vector = vector
            if n is None:
                p.vectors[SPACE_IMAGE] = vector
            else:
                p.media.shots[n].vector = vector  # type: ignore[union-attr]
        run = run_annotators(annotators, [item for _, _, item in pictures], settings.annotator_workers)
        stage_seconds.update(run.seconds)
        started = time.perf_counter()
        for (_, _, item), notes in zip(pictures, run.annotations, strict=True):
            notes.extend(canvas_annotations(item.image, notes))  # the spatial canvas: colours, faces per cell
        stage_seconds["annotate:canvas"] = time.perf_counter() - started
        for (p, n, _), notes in zip(pictures, run.annotations, strict=True):
            if n is not None:
                shot = p.media.shots[n]  # type: ignore[union-attr]
                notes = [a.model_copy(update={"time": TimeRange(start=shot.start, end=shot.end)}) for a in notes]
            p.labels.extend(notes)
    if texts:
        started = time.perf_counter()
        bodies = [p.text for p in texts]
        dense = collection.sentence.encode_texts(bodies)
        cross = dense if collection.encoder.text_model_id == collection.sentence.id else collection.encoder.encode_texts(bodies)
        for p, d, c in zip(texts, dense, cross, strict=True):
            p.vectors[SPACE_DENSE] = d
            p.vectors[SPACE_TEXT] = c
        stage_seconds["encode_text"] = time.perf_counter() - started
    # Batch stages are shared out over the new items by their number of pictures (texts count one).
    weights = {h: max(1, p.pictures) for h, p in fresh.items()}
    total = sum(weights.values()) or 1
    for h, p in fresh.items():
        for stage, seconds in stage_seconds.items():
            p.timings[stage] = round(p.timings.get(stage, 0.0) + seconds * weights[h] / total, 4)
    for p in batch:  # a duplicate inside the same batch shares the first one's work
        if p.existing_content is None and p.content_hash in fresh and fresh[p.content_hash] is not p:
            first = fresh[p.content_hash]
            p.vectors, p.labels, p.media, p.features = first.vectors, first.labels, first.media, first.features


def _store_files(collection: Collection, p: Prepared) -> tuple[str | None, str | None, list[str]]:
    """Write the original and its thumbnail, content-addressed (safe to repeat after a crash); returns
    their paths and the files this call created, which the caller removes if the catalog write fails.
    Videos and audio wrote theirs while being prepared (ffmpeg reads the stored original).

    Runs under the write lock. A failure (a full disk: StorageFull) removes what this call wrote, and
    the failed write its temp file, so nothing is left behind."""
    if p.media is not None:
        return p.media.media_path, p.media.thumb_path, []
    if p.image is None or p.item.data is None:
        return None, None, []
    media_rel = files.image_path(p.content_hash, p.image_format)
    thumb_rel = files.thumb_path(p.content_hash)
    created: list[str] = []
    try:
        for rel, payload in ((media_rel, lambda: p.item.data),
                             (thumb_rel, lambda: thumbnail_bytes(p.image, collection.settings.thumbnail_size))):
            if not (collection.media_root / rel).exists():
                files.write(collection.media_root, rel, payload())
                created.append(rel)
    except BaseException:
        files.remove(collection.media_root, created)
        raise
    return media_rel, thumb_rel, created


@contextmanager
def _removed_on_failure(collection: Collection, rels: list[str]) -> Iterator[None]:
    try:
        yield
    except BaseException:
        files.remove(collection.media_root, rels)
        raise


def _write(collection: Collection, p: Prepared) -> IngestOutcome:
    item, catalog = p.item, collection.catalog
    with collection.write_lock:
        existing_row = catalog.asset_row(item.id)
        if existing_row is not None and existing_row["owner"] != item.owner:
            raise taken(item.id)
        content = catalog.content_by_hash(p.content_hash)
        # What the pipeline derived from the bytes belongs to the content: a copy of stored bytes inherits
        # it. Nothing a person attached to another copy comes along (catalog.derived_annotations).
        if content is not None:
            labels = catalog.derived_annotations(content.id) or [a.as_derived() for a in p.labels]
        else:
            labels = [a.as_derived() for a in p.labels]
        created_at = item.created_at or (existing_row["created_at"] if existing_row else None)
        asset = Asset(
            id=item.id, owner=item.owner, media_type=p.media_type, **metadata_of(item), source=item.source,
            annotations=[*item.annotations, *labels], **({"created_at": created_at} if created_at else {}),
        )
        if existing_row is not None and content is not None and existing_row["content_id"] == content.id:
            stored = catalog.asset_from_row(existing_row, Viewer(username=item.owner))
            if all(getattr(stored, f) == getattr(asset, f) for f in POSTED_FIELDS):
                return IngestOutcome(item.id, IngestStatus.unchanged, name=item.name)
        media_rel, thumb_rel, created = (None, None, []) if content is not None else _store_files(collection, p)
        # The transaction fails (a full disk: StorageFull): the files of the content it did not store go too.
        with _removed_on_failure(collection, created), catalog.transaction() as db:
            if content is None:
                media = p.media
                width = p.image.width if p.image else (media.info.width if media else None)
                height = p.image.height if p.image else (media.info.height if media else None)
                # The active adapter's image vectors go in with the rest (read in this transaction, so an
                # adapter switch, which holds the write lock, never leaves a picture in the old version).
                adapter = active_adapter(collection)
                content_id = catalog.insert_content(
                    db, p.content_hash, p.media_type, media_path=media_rel, thumb_path=thumb_rel, text=p.text,
                    width=width, height=height, vectors=with_adapted(adapter, p.vectors, p.features.get(None)),
                    duration=media.duration if media else None,
                )
                if None in p.features:
                    catalog.insert_features(db, content_id, FEATURE_MODEL, p.features[None])
                for n, shot in enumerate(media.shots if media else []):  # the video and its shots: one transaction
                    segment_id = catalog.insert_segment(
                        db, content_id, shot.start, shot.end, shot.keyframe_path,
                        vectors=with_adapted(adapter, {SPACE_IMAGE: shot.vector}, p.features.get(n)) if shot.vector is not None else {})
                    if n in p.features:
                        catalog.insert_features(db, SEGMENT_ID_BASE + segment_id, FEATURE_MODEL, p.features[n])
            else:
                content_id = content.id
            catalog.upsert_asset(db, asset, content_id)
            if existing_row is not None and existing_row["content_id"] != content_id:
                orphan = catalog.delete_content_if_orphan(db, existing_row["content_id"])
            else:
                orphan = None
            # Other copies the owner may see (their own and public ones): never another user's private asset.
            duplicates = catalog.copies(content_id, item.id, Viewer(username=item.owner))
        if orphan is not None:
            files.remove_content(collection.media_root, orphan)
    collection.catch_up()
    collection.sync_lexical()
    status = IngestStatus.updated if existing_row is not None else IngestStatus.added
    notes = [a.value for a in labels if a.name == NOTE_ANNOTATION]
    return IngestOutcome(item.id, status, reason="; ".join(notes) or None, duplicate_of=duplicates, name=item.name)


def ingest(
    collection: Collection,
    items: Iterable[AssetInput],
    on_done: Callable[[IngestOutcome], None] | None = None,
    batch_size: int = BATCH_SIZE,
) -> list[IngestOutcome]:
    """Ingest items; a bad item is rejected with its reason and the rest go on."""
    outcomes: list[IngestOutcome] = []

    def finish(outcome: IngestOutcome, media_type: MediaType | None = None) -> None:
        _observe(media_type, outcome)
        outcomes.append(outcome)
        if on_done:
            on_done(outcome)

    batch: list[Prepared] = []

    def run_batch() -> None:
        try:
            _encode(collection, batch)
        except BaseException:
            for p in batch:
                discard(collection, p)
            raise
        failed = []
        for p in batch:
            try:
                started = time.perf_counter()
                outcome = _write(collection, p)
                p.timings["write"] = round(time.perf_counter() - started, 4)
                outcome.timings = dict(p.timings)
                finish(outcome, p.media_type)
            except MediasearchError as exc:
                failed.append(p)
                finish(IngestOutcome(p.item.id, IngestStatus.rejected, str(exc), name=p.item.name, timings=dict(p.timings)),
                       p.media_type)
        collection.lexical_checkpoint()  # the lexical store catches up every few seconds, not once per asset
        for p in failed:  # after the batch: a duplicate in it may have stored the same files
            discard(collection, p)
        batch.clear()

    # On CUDA, CPU threads decode the next pictures while the GPU encodes a batch; on the CPU the cores
    # are busy encoding already, and items are decoded one by one as before.
    paired: Iterable[tuple[AssetInput, Future | None]] = (
        decode_ahead(items, collection.settings, 2 * batch_size) if collection.device == "cuda"
        else ((item, None) for item in items))
    with collection.lexical_batch():  # replayed into the lexical store at checkpoints and at the end
        for item, decoded in paired:
            try:
                started = time.perf_counter()
                prepared = prepare(collection, item, decoded)
                prepared.timings.setdefault("prepare", round(time.perf_counter() - started, 4))
                batch.append(prepared)
            except MediasearchError as exc:
                finish(IngestOutcome(item.id, IngestStatus.rejected, str(exc), name=item.name), _guess_type(item))
            if len(batch) >= batch_size or sum(p.pictures for p in batch) >= KEYFRAMES_PER_BATCH:
                run_batch()
        if batch:
            run_batch()
    collection.flush(strict=False)  # every outcome is committed; on a full disk the indexes replay on open
    if any(o.status in (IngestStatus.added, IngestStatus.updated) for o in outcomes):
        _index_copies(collection)
    return outcomes


def _index_copies(collection: Collection) -> None:
    """The copy index (frame descriptors, picture hashes) of what a batch ingest just stored. Never fails the
    ingest: what is left out here is added by the next search that reads the index (indexer/pipeline/copy_index.py).
    A single asset posted through the API (`ingest_one`) is indexed by that next search: the post's latency
    stays as it was, and so do its writes (tests/test_disk_full.py measures what a full disk refuses)."""
    from indexer.pipeline.copy_index import backfill

    try:
        backfill(collection)
    except (MediasearchError, sqlite3.Error, OSError) as exc:  # e.g. a full disk: the asset itself is stored
        log.warning("copy index not updated after ingest (the next copy or video search adds it): %s", exc)


def ingest_one(collection: Collection, item: AssetInput) -> IngestOutcome:
    """Ingest a single item, raising its error instead of reporting it (for the API)."""
    try:
        prepared = prepare(collection, item)
    except MediasearchError as exc:
        _observe(_guess_type(item), IngestOutcome(item.id, IngestStatus.rejected, str(exc), name=item.name))
        raise
    try:
        _encode(collection, [prepared])
        outcome = _write(collection, prepared)
    except BaseException as exc:
        discard(collection, prepared)
        if isinstance(exc, MediasearchError):
            _observe(prepared.media_type, IngestOutcome(item.id, IngestStatus.rejected, str(exc), name=item.name))
        raise
    _observe(prepared.media_type, outcome)
    return outcome


# Called with (media type or None when unknown, outcome) after each item; the API counts them for /metrics.
INGEST_OBSERVERS: list[Callable[[MediaType | None, IngestOutcome], None]] = []


def _observe(media_type: MediaType | None, outcome: IngestOutcome) -> None:
    for observe in INGEST_OBSERVERS:
        observe(media_type, outcome)


def _guess_type(item: AssetInput) -> MediaType | None:
    """The media type of an item rejected before it was read (for counting only)."""
    if item.media_type is not None or item.text is not None:
        return item.media_type or MediaType.text
    try:
        return media_type_for_path(Path(item.name)) if item.name else None
    except MediasearchError:
        return None
