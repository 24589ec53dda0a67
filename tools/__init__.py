"""Repository checks that `make lint` runs beside ruff and pyright."""
