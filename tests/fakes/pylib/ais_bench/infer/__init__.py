"""Present in the real tool (ais_bench.infer); the workflow's probe looks for it."""
