"""Benchmarks: each module has ``main(argv) -> int`` and prints ratios measured in one
process (medians of repeated, paired runs), never a single timing compared across runs.

Run them through ``python -m snippets bench NAME [--json]``.
"""
