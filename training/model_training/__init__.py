"""Training of the platform's models into self-contained model directories (see serving_common.model_dir)."""
