"""Adapters: a small projection learnt from the platform's own captioned pictures, with the encoders
frozen, that maps image features into the text space (`mediasearch train-adapter`). The projection
itself is indexer/media/encoders/adapter.py.

    data.py   examples (pictures with owner-written text) and their frozen inputs
    train.py  split, InfoNCE, early stopping, the never-worse rule
    switch.py the atomic switch to another version (the versions on disk, the active one and the status
              are indexer/stores/adapter_versions.py)
"""
