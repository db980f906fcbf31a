"""``python -m app [PATH] [--model CKPT]``: start the review window."""

from app.main import main

raise SystemExit(main())
