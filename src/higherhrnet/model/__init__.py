"""The model: network, variants (torch-free table), checkpoints, ONNX export, synthetic weights."""
