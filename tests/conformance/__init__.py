"""The official MCP conformance suite, run against a fixture server directly and through the proxy."""
