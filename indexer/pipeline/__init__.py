"""The pipeline: what changes a collection.

    ingest.py     validate, deduplicate, encode, annotate, store
    edits.py      metadata changes, annotations attached later, deletion (owner or admin)
"""
