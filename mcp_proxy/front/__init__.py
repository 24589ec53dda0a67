"""What clients connect to: the MCP handlers, downstream calls, the stdio / streamable HTTP / SSE
transports and their guards."""
