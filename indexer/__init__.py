"""Indexer: the asset model, media handling, encoders and the stores.

Layering: `indexer` may import `ranking` only. `query`, `recommender` and `api`
build on top of it.
"""
