"""The inference log: one row per prediction, as Parquet partitioned by environment / model / date /
hour under a URL (a local directory, or ``s3://...`` and any other fsspec filesystem).

Written by the feature transformer (buffered, off the request path: :mod:`.writer`), in the same
row format by the baseline generator for reference data (:mod:`.records`), and read by the drift
detector window by window (:mod:`.reader`).
"""
