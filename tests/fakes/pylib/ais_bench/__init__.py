"""Test double of the Ascend inference tool ais_bench (tests/fakes/README.md)."""
