"""export: open a DAI scoring-pipeline export safely (folder, zip, dbfs:/), and read its input
schema, example rows and requirements.

Who runs it: the caller's Python (checks before any 3.8 work) and the Project environment
(packaging). Standard library only (pandas imported lazily for example frames). May import: the
foundation (``errors``, ``settings``).
"""
