-- Background jobs' failures (asterisk_rec/jobs): each job's count and last error, for operators.
CREATE TABLE background_jobs (
    name            text PRIMARY KEY,
    failures        integer NOT NULL DEFAULT 0,
    last_error      text,
    last_failed_at  timestamptz
);

