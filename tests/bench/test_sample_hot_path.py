"""Tabulating sampled stacks: inclusive shares count a function once per stack, own shares the leaf."""

from __future__ import annotations

from bench.sample_hot_path import summarize


def test_inclusive_and_own_shares_fold_line_numbers_and_count_recursion_once() -> None:
    collapsed = "\n".join(
        [
            "main (app.py:1);handle (app.py:10);parse (json.py:5) 6",
            "main (app.py:1);handle (app.py:12);handle (app.py:10);write (io.py:3) 3",
            "main (app.py:2);idle (loop.py:7) 1",
            "garbage line without a count",
        ]
    )

    table = summarize(collapsed)

    assert table.startswith("10 on-CPU samples")
    inclusive, own = table.split("own       function")
    assert "  100.0%  main (app.py)" in inclusive
    assert "   90.0%  handle (app.py)" in inclusive  # 6 + 3, not 6 + 3 + 3 for the recursion
    assert "   60.0%  parse (json.py)" in own
    assert "   30.0%  write (io.py)" in own
    assert "main (app.py)" not in own


def test_no_samples_says_so() -> None:
    assert summarize("") == "no samples\n"
