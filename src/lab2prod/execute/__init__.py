"""Running notebooks: papermill with the project's kernel, records, and Kedro nodes.

Nothing is imported here: the kernel imports ``lab2prod.execute.record`` and must stay light.
"""
