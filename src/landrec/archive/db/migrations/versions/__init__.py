"""The archive's migrations, oldest first (`0001_initial` creates the schema of `models.py`)."""
