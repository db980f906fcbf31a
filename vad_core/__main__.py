import sys

from vad_core.cli.main import main

sys.exit(main())
