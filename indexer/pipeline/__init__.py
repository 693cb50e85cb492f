"""The pipeline: what changes a collection.

    ingest.py     validate, deduplicate, encode, annotate, store
"""
