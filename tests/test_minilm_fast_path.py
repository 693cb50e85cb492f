"""A single text takes a shorter path through MiniLM (the search box's query); its vector must be the one
`SentenceTransformer.encode` gives, in a batch of one and inside a batch of many."""

import numpy as np

from indexer.media.encoders.minilm import shared_minilm

TEXTS = [
    "a tabby cat sleeping on a red sofa",
    "x",
    "boundary layer flow over a flat plate at high mach number, with heat transfer and a long tail of words",
    "Ünïcödé façade — naïve café",
    "   ",
]


def test_one_text_gives_the_vector_of_encode() -> None:
    encoder = shared_minilm()
    reference = encoder._model.encode(TEXTS, batch_size=64, normalize_embeddings=True, show_progress_bar=False)
    for text, expected in zip(TEXTS, reference, strict=True):
        fast = encoder.encode_texts([text])
        assert fast.shape == (1, encoder.dim) and fast.dtype == np.float32
        np.testing.assert_allclose(fast[0], expected / np.linalg.norm(expected), atol=1e-6)
    batch = encoder.encode_texts(TEXTS)
    np.testing.assert_allclose(batch, np.stack([encoder.encode_texts([t])[0] for t in TEXTS]), atol=1e-6)
