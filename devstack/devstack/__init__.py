"""The whole platform as local processes on loopback: used by `make run`, the end-to-end tests and `make bench`."""
