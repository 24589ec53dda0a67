"""The benchmark suite: the proxy against direct connections, measured in the same run.

`python -m bench` launches every measured process as a real subprocess, interleaves direct and
proxied repetitions, and writes the raw figures (JSON) and a table of medians (Markdown).
See bench/README.md.
"""
