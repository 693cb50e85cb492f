"""Indexer: the asset model, media handling, the stores and the pipeline that fills them.

    media/      decoding, video and audio through ffmpeg, shots, derived pictures, speech, annotators, encoders
    stores/     the catalog (source of truth), FAISS, the lexical stores, content files, adapter versions
    pipeline/   ingest, inputs, edits, reindex, propagation, bulk import, check/repair, backup, adapters

Small shared modules stay at the top: assets, errors, config, access, filters, locks, disk, fetch, roots
and collection (one home's catalog, encoders, vector indexes and lexical store together).

Layering: `indexer` may import `ranking` only. `query`, `recommender` and `api`
build on top of it. Inside, the pipeline builds on the collection, media and stores.
"""
