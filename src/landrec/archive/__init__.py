"""The archive service: every file added to a storage folder indexed (metadata, thumbnail,
landscape context) into a database, searched through a REST API. Above `landrec.api`."""
