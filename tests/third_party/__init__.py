"""Real third-party MCP servers behind the proxy, installed on demand from the npm registry."""
