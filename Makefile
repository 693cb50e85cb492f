# The README's two commands: `make demo` and `make test`. Everything else hangs off `install`.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
HOST ?= 127.0.0.1
PORT ?= 8000
DATA ?=

.PHONY: install install-gpu system-packages demo test serve clean

install: system-packages $(VENV)/.installed

# Videos and audio need ffmpeg and ffprobe; the demo clip's voice and the speech tests use flite; OpenCV
# (OCR, nudity detection) needs libGL; the browser tests drive Debian's chromium; the local OpenSearch
# node is unpacked with unzip and probed with curl; the HTTPS URL-ingest test makes a certificate with openssl
# (Java and Maven come with this machine kind).
# Installed from Debian when missing, non-interactively (as root, or through passwordless sudo).
# The PostgreSQL catalog's tests run Debian's postgresql (docker/postgres-local.sh; its pg_ctl is not on PATH).
SYSTEM_TOOLS := ffmpeg ffprobe flite chromium unzip curl openssl
system-packages:
	@missing=""; for tool in $(SYSTEM_TOOLS); do command -v $$tool >/dev/null 2>&1 || missing="$$missing $$tool"; done; \
	ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || command -v pg_ctl >/dev/null 2>&1 || missing="$$missing pg_ctl"; \
	{ ldconfig -p 2>/dev/null || /sbin/ldconfig -p 2>/dev/null; } | grep -q 'libGL.so.1' || missing="$$missing libGL"; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages for:$$missing"; \
		if [ "$$(id -u)" = 0 ]; then sudo=""; else sudo="sudo -n"; fi; \
		$$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			ffmpeg flite libgl1 libglib2.0-0 chromium unzip curl openssl postgresql >/dev/null; \
	fi

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@# facenet-pytorch (the MTCNN face detector) declares torch<2.3 but runs on the torch pinned in pyproject.toml;
	@# installed without its dependencies so pip keeps that torch (everything it imports is declared there).
	$(PY) -m pip install --quiet --no-deps facenet-pytorch==2.6.0
	touch $@

# On a GPU host: FAISS's CUDA build instead of faiss-cpu (pyproject's `gpu` extra; docs/deploy.md#gpu). Both
# wheels install the package `faiss`: faiss-cpu is removed, then the GPU build reinstalled over what that removed.
install-gpu: install
	$(PY) -m pip install --quiet -e '.[dev,gpu]'
	$(PY) -m pip uninstall --quiet -y faiss-cpu
	$(PY) -m pip install --quiet --force-reinstall --no-deps faiss-gpu-cuvs==1.15.1
	$(PY) -c "import faiss; print('faiss', faiss.__version__, 'GPUs:', faiss.get_num_gpus())"

# The demo runs every annotator (OCR, faces, colours, EXIF, content flags) unless told otherwise.
demo: install
	MEDIASEARCH_ANNOTATORS=$${MEDIASEARCH_ANNOTATORS:-all} $(VENV)/bin/mediasearch demo --host $(HOST) --port $(PORT) $(if $(DATA),--data $(DATA))

serve: install
	$(VENV)/bin/mediasearch serve --host $(HOST) --port $(PORT)

test: install
	$(PY) -m pytest

clean:
	rm -rf $(VENV) .mediasearch .pytest_cache

# Container images and the compose topology, run here with podman (docs/deploy.md, "Container images, tested
# here"). Not part of `make test`: the first build takes about 30 minutes and 3.3 GB of wheels. They use $(PY)
# (PyYAML) without depending on `install`: run `make install` first on a fresh machine.
# `make topology-test MEDIASEARCH_DATABASE_URL=postgresql://mediasearch:mediasearch@127.0.0.1:18510/mediasearch`
# adds the cross-node check once the PostgreSQL catalog exists.
.PHONY: images topology-up topology-down topology-test
images:
	PY=$(abspath $(PY)) docker/images.sh

topology-up: images
	$(PY) docker/topology.py up

topology-down:
	$(PY) docker/topology.py down -v

topology-test: images
	@$(PY) docker/topology.py down -v >/dev/null
	@start=$$(date +%s); status=0; \
	$(PY) docker/topology.py up && $(PY) docker/topology_smoke.py || status=$$?; \
	if [ $$status -ne 0 ]; then for s in opensearch-1 api-a api-b; do echo "--- $$s"; $(PY) docker/topology.py logs $$s 2>&1 | tail -n 15; done; fi; \
	$(PY) docker/topology.py down -v; \
	echo "topology-test: $$([ $$status -eq 0 ] && echo passed || echo FAILED) in $$(( $$(date +%s) - start )) s (up, smoke, down)"; \
	exit $$status
