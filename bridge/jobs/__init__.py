"""rq jobs: they take ids, look everything else up, are idempotent and never swallow errors."""
