"""Preprocessing: size rule and shape sets, transforms, manifest, the preprocess stage."""
