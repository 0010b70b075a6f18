"""Hourly drift detection over the inference log with alibi-detect."""
