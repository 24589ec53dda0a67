"""The configuration: typed models of `servers.toml`, loading, `${VAR}` rules, other tools' files, rendering."""
