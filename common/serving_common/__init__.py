"""Code that more than one service needs, written once: wire schemas, feature extraction,
the model-directory contract, the error shape, logging and settings helpers."""
