-- Retention per organisation (days, one of the configured periods), the bulk download switch, purged
-- recordings kept as rows, and the bulk download jobs.
ALTER TABLE organisations
    ADD COLUMN retention_days integer NOT NULL DEFAULT 90 CHECK (retention_days > 0),
    ADD COLUMN bulk_download boolean NOT NULL DEFAULT false;

ALTER TABLE recordings DROP CONSTRAINT recordings_state_check;
ALTER TABLE recordings ADD CONSTRAINT recordings_state_check
    CHECK (state IN ('recording', 'stored', 'discarded', 'purged'));
-- When the purge deleted the file (its period over); the row and the call's row stay.
ALTER TABLE recordings ADD COLUMN purged_at timestamptz;
CREATE INDEX recordings_stored_start ON recordings (started_at) WHERE state = 'stored';

CREATE TABLE exports (
    id              bigserial PRIMARY KEY,
    organisation_id bigint NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    account_id      bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    month           date NOT NULL CHECK (extract(day FROM month) = 1),
    -- Only these users' calls (extensions); empty: everyone's.
    extensions      text[] NOT NULL DEFAULT '{}',
    state           text NOT NULL DEFAULT 'queued'
                    CHECK (state IN ('queued', 'running', 'done', 'failed', 'expired')),
    files_total     integer NOT NULL DEFAULT 0,
    files_done      integer NOT NULL DEFAULT 0,
    -- The ZIP files: [{"name": "...", "size": n, "sha256": "..."}]
    parts           jsonb NOT NULL DEFAULT '[]',
    error           text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    expires_at      timestamptz,
    mailed_at       timestamptz
);
CREATE INDEX exports_organisation ON exports (organisation_id, created_at DESC);
CREATE INDEX exports_waiting ON exports (state) WHERE state IN ('queued', 'running', 'done');
