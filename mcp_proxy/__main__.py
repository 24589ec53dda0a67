"""`python -m mcp_proxy` runs the `mcp-proxy` command line."""

import sys

from .cli import main

sys.exit(main())
