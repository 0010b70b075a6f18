"""KServe predictor: Hugging Face sequence classifiers (DeBERTa family) over Open Inference Protocol v2 and v1."""
