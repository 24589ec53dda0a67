"""The merged catalog and its naming rules: pure, names in and routes out, no I/O."""
