"""Quote ingestion: stream to journal, derive tables from the journal, replay recordings."""
