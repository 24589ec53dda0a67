"""`python -m tests.e2e.serve_chat`: the chat service's real entry point, for the end-to-end tests."""

from __future__ import annotations

import sys

from chat_api.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
