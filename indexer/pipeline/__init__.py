"""The pipeline: what changes a collection.

    ingest.py     validate, deduplicate, encode, annotate, store
    intake.py     ingest's first stage: each item checked, decoded (ahead, on CUDA), looked up by its bytes
    inputs.py     files and folders, URLs and JSON-lines manifests as inputs for ingest
    edits.py      metadata changes, annotations attached later, deletion (owner or admin)
    reindex.py    re-encode every content with the active encoder; rebuild the lexical store
    propagate.py  annotations proposed from the nearest annotated neighbours
    bulk.py       assets with vectors computed elsewhere, in one transaction per batch
    check.py      do the derived stores and the content files agree with the catalog? repair
    backup.py     a consistent snapshot of every store, and its restore
    adapters/     the projection learnt from captioned pictures: examples, training, the switch
"""
