"""chat_api: a thin chat service that talks to one MCP server (the proxy or a legacy single server)."""

__version__ = "0.1.0"
