"""BM25 over long texts (issue 17, 0c): 36 texts of 150-400 kB (Cranfield abstracts concatenated), a
9-word and a 60-word query, `search_groups` (ranking + snippets) and its parts.

    PYTHONPATH=. .venv/bin/python bench/long_texts.py HOME      # HOME: made on first run (about a minute)
"""
import random
import time, sys
from pathlib import Path
from indexer.collection import Collection
from indexer.config import Settings
from indexer.access import ADMIN
from indexer.assets import MediaType
from indexer.stores.lexical import LexicalQuery
import indexer.stores.sqlite_lexical as sl
from indexer.assets import AssetInput
from indexer.pipeline.ingest import ingest

home = Path(sys.argv[1])
build = not home.exists()
c = Collection.open(Settings(home=home, encoder="bundled"), create=build)
if build:
    raw = Path(__file__).resolve().parents[2].joinpath("shared", "datasets", "cranfield", "cran.all.1400").read_text()
    docs = [d.split(".W", 1)[-1] for d in raw.split(".I ")[1:]]
    rng = random.Random(1)
    items = []
    for i in range(36):
        size, parts, n = rng.randint(150_000, 400_000), [], 0
        while n < size:
            d = rng.choice(docs)
            parts.append(d)
            n += len(d)
        items.append(AssetInput(id=f"long{i}", owner="ana", title=f"report {i}", text=" ".join(parts)[:size]))
    ingest(c, items)
q9 = "boundary layer flow over a heated flat plate with suction".split()
q60 = ("what similarity laws must be obeyed when constructing aeroelastic models of heated high speed aircraft " * 5).split()[:60]
for words in (q9, q60):
    q = LexicalQuery(words=words)
    best = 9e9
    for _ in range(3):
        t = time.perf_counter(); out = c.lexical.search_groups(q, ADMIN, 50, [[MediaType.text]]); best = min(best, time.perf_counter() - t)
    print(len(words), "words:", round(best * 1000), "ms,", len(out[0]), "hits; first:", [(h.asset_id, round(h.score, 3)) for h in out[0][:3]], (out[0][0].highlights.get("text") or "")[:150])
from indexer.stores.sqlite_lexical import fts_expression
for words in (q9, q60):
    expr = fts_expression(LexicalQuery(words=words))
    t = time.perf_counter(); rows = c.catalog.db.execute("SELECT rowid, -bm25(assets_fts) FROM assets_fts WHERE assets_fts MATCH ? ORDER BY 2 DESC LIMIT 50", (expr,)).fetchall(); t1 = time.perf_counter() - t
    t = time.perf_counter()
    for r in rows: c.catalog.db.execute("SELECT snippet(assets_fts, 0, '[', ']', '…', 24), snippet(assets_fts, 1, '[', ']', '…', 24) FROM assets_fts WHERE assets_fts MATCH ? AND rowid = ?", (expr, r[0])).fetchone()
    t2 = time.perf_counter() - t
    body = [c.catalog.db.execute("SELECT body FROM assets_fts WHERE rowid = ?", (r[0],)).fetchone()[0] for r in rows]
    from indexer.stores.snippets import chunked_snippet
    t = time.perf_counter()
    for b in body: chunked_snippet(b, expr, "[", "]")
    t3 = time.perf_counter() - t
    print(len(words), "rank", round(t1*1000), "short snippets", round(t2*1000), "chunked", round(t3*1000))
