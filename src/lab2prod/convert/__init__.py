"""Notebook to pipeline: analysis, plan, code generation, sync and verification."""
