"""Inference: the Engine protocol and one record per backend (engine), the engines, the
ais_bench output layout, the model benchmark. Empty on purpose: importing a module here loads
no engine (postprocess reads the output layout without the model)."""
