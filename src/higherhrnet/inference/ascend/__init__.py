"""Ascend: compiling (ATC, AOE) and running (ais_bench, devices) under the CANN toolkit."""
