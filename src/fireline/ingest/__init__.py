"""Getting telemetry in: validation of call batches, JSONL files, and the ingest service."""

from fireline.ingest.schema import MAX_BATCH_ROWS, parse_calls
from fireline.ingest.service import IngestResult, IngestService

__all__ = ["MAX_BATCH_ROWS", "IngestResult", "IngestService", "parse_calls"]
