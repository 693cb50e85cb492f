"""`mediasearch calibrate --from-collection` measured: ingest the first N Flickr8k dev pictures, each described by
its first caption, then fit and check the cross-modal cut-off on them (a quarter held out).

    .venv/bin/python bench/calibrate_collection.py 400
"""
import os, sys, tempfile
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
from pathlib import Path
from indexer.assets import AssetInput
from indexer.collection import Collection
from indexer.config import Settings
from indexer.pipeline.ingest import ingest
from query.calibrate_collection import calibrate_on_collection
from query.datasets import load_captions
n = int(sys.argv[1])
captions = load_captions()
names = list(captions.images)[:n]
with tempfile.TemporaryDirectory() as tmp:
    c = Collection.open(Settings(home=Path(tmp) / "h", encoder="bundled"), create=True)
    ingest(c, [AssetInput(id=f"pic-{x}", owner="ana", data=captions.images[x].read_bytes(), name=x, title="photo",
                          description=captions.captions[x][0]) for x in names])
    r = calibrate_on_collection(c, holdout=0.25)
    print(n, r.fitted_pictures, r.threshold, r.held_out.model_dump_json())
    c.close()
