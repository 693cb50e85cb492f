"""`python -m api.cli`: the `mediasearch` command (train-adapter --background starts itself this way)."""

import sys

from api.cli import main

sys.exit(main())
