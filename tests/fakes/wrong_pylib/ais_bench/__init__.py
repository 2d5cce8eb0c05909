"""Test double of PyPI's ais-bench-benchmark (AISBench LLM evaluation), which also installs
a module named ais_bench - but not the Ascend inference tool (no ais_bench.infer)."""
