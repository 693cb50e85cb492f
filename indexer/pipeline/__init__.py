"""The pipeline: what changes a collection.

    ingest.py     validate, deduplicate, encode, annotate, store
    inputs.py     files and folders, URLs and JSON-lines manifests as inputs for ingest
    edits.py      metadata changes, annotations attached later, deletion (owner or admin)
"""
