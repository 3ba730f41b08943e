"""Background jobs (exports, purge, the archive's sweep, the CDR ingest, ...) run under supervision, apart
from call control: a job's failure is logged, kept on its row and retried, never passed on."""
