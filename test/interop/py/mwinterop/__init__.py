"""Shared code of the interop scripts in test/interop/py (canonical JSON, engines, sample table)."""
