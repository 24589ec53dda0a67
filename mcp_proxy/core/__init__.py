"""The proxy's leaf vocabulary, usable from every layer: the error hierarchy, the observer seam,
stdio framing and pipes, size estimates. Imports nothing else of the proxy."""
