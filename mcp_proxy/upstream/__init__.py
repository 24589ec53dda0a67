"""One supervised connection per configured server: sessions, call gate, breaker, transports,
stdio children. Never imports the front: what it needs from a caller is `caller.Caller`."""
