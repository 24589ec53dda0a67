"""A real OAuth 2.1 authorization server (`oidc-provider` on Node 22) for the tests, and how to sign in to it."""
