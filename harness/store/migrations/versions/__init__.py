"""Alembic revision scripts of the workspace schema, one file per revision (``NNNN_<slug>.py``)."""
