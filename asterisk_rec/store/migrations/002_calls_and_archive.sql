-- Calls (one row each, from Asterisk's CDRs and the app's own record) and the archive of recordings.

-- The archive's file format is the organisation's choice (bench/archive_formats.py measured the default).
ALTER TABLE organisations ADD COLUMN archive_format text NOT NULL DEFAULT 'mp3'
    CHECK (archive_format IN ('wav', 'flac', 'opus', 'mp3'));

-- CDRs as Asterisk sent them (over AMI, or recovered from its CSV file). A call may have several.
CREATE TABLE cdr_records (
    unique_id           text NOT NULL,
    sequence            bigint NOT NULL,
    linked_id           text NOT NULL,
    call_id             text,
    source              text NOT NULL,
    destination         text NOT NULL,
    context             text NOT NULL,
    caller_id           text NOT NULL,
    channel             text NOT NULL,
    destination_channel text NOT NULL,
    last_application    text NOT NULL,
    last_data           text NOT NULL,
    started_at          timestamptz NOT NULL,
    answered_at         timestamptz,
    ended_at            timestamptz NOT NULL,
    disposition         text NOT NULL,
    received_via        text NOT NULL CHECK (received_via IN ('ami', 'csv')),
    received_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (unique_id, sequence)
);
CREATE INDEX cdr_records_linked_id ON cdr_records (linked_id);

-- What the app knows of a call it handles, written when the call enters the app (before it rings anyone)
-- and completed when it ends.
CREATE TABLE app_calls (
    call_id             text PRIMARY KEY,
    linked_id           text NOT NULL UNIQUE,
    direction           text NOT NULL CHECK (direction IN ('internal', 'inbound', 'outbound')),
    caller              text NOT NULL,
    callee              text NOT NULL,
    caller_user_id      bigint REFERENCES users (id) ON DELETE SET NULL,
    callee_user_id      bigint REFERENCES users (id) ON DELETE SET NULL,
    organisation_ids    bigint[] NOT NULL,
    started_at          timestamptz NOT NULL,
    answered_at         timestamptz,
    ended_at            timestamptz,
    -- How the app ended it (ANSWER, BUSY, NOANSWER, ...): more precise than the CDR for calls it handed
    -- back to the dialplan.
    outcome             text,
    notice_finished_at  timestamptz
);

-- One row per call, keyed by Asterisk's LinkedID (shared by every channel of the call): what the app
-- recorded of it (app_calls) merged with Asterisk's CDRs (asterisk_rec/calls/summary.py).
CREATE TABLE calls (
    id                  bigserial PRIMARY KEY,
    linked_id           text NOT NULL UNIQUE,
    call_id             text UNIQUE,
    direction           text CHECK (direction IN ('internal', 'inbound', 'outbound')),
    caller              text,
    callee              text,
    caller_user_id      bigint REFERENCES users (id) ON DELETE SET NULL,
    callee_user_id      bigint REFERENCES users (id) ON DELETE SET NULL,
    started_at          timestamptz NOT NULL,
    answered_at         timestamptz,
    ended_at            timestamptz,
    disposition         text CHECK (disposition IN ('answered', 'no_answer', 'busy', 'failed', 'in_progress')),
    notice_finished_at  timestamptz,
    -- 'app': the app's record only so far; 'cdr': Asterisk's CDRs are in.
    source              text NOT NULL CHECK (source IN ('app', 'cdr')),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX calls_started_at ON calls (started_at);

-- A call between users of two organisations appears in each one's calls.
CREATE TABLE call_organisations (
    call_id         bigint NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
    organisation_id bigint NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    PRIMARY KEY (call_id, organisation_id)
);
CREATE INDEX call_organisations_organisation ON call_organisations (organisation_id, call_id);

-- A recording, from the moment the app starts it (state 'recording') through Asterisk's finishing it to
-- its archived file ('stored'). Linked to its call by the app's call id.
CREATE TABLE recordings (
    id                  bigserial PRIMARY KEY,
    call_id             text NOT NULL UNIQUE,
    name                text NOT NULL UNIQUE,
    organisation_id     bigint NOT NULL REFERENCES organisations (id),
    state               text NOT NULL DEFAULT 'recording' CHECK (state IN ('recording', 'stored', 'discarded')),
    started_at          timestamptz NOT NULL,
    notice_finished_at  timestamptz,
    joined_at           timestamptz,
    parts               jsonb NOT NULL DEFAULT '[]',
    format              text,
    path                text UNIQUE,
    sha256              text,
    size_bytes          bigint,
    duration_seconds    double precision,
    stored_at           timestamptz,
    attempts            integer NOT NULL DEFAULT 0,
    last_error          text,
    CHECK (state <> 'stored' OR (path IS NOT NULL AND sha256 IS NOT NULL AND size_bytes IS NOT NULL))
);
CREATE INDEX recordings_state ON recordings (state) WHERE state <> 'stored';

-- Who owns the file: it stays until the last owner's retention has ended.
CREATE TABLE recording_owners (
    recording_id    bigint NOT NULL REFERENCES recordings (id) ON DELETE CASCADE,
    organisation_id bigint NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    PRIMARY KEY (recording_id, organisation_id)
);

-- How far the service has read Asterisk's CDR CSV file (for recovering CDRs missed over AMI).
CREATE TABLE cdr_csv_positions (
    path        text PRIMARY KEY,
    inode       bigint NOT NULL,
    position    bigint NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
