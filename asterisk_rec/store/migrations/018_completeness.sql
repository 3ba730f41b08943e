-- The completeness check: what each recording had to cover (from when it was required until when, less
-- the stretches left out on purpose: hold, the user's pause, a transfer's ringing), recordings Asterisk
-- never made ('failed'), the calls the dialplan connected while the app was down, and what the check found.
ALTER TABLE recordings
    ADD COLUMN required_since timestamptz,
    ADD COLUMN required_until timestamptz,
    ADD COLUMN excused jsonb NOT NULL DEFAULT '[]';
ALTER TABLE recordings DROP CONSTRAINT recordings_state_check;
ALTER TABLE recordings ADD CONSTRAINT recordings_state_check
    CHECK (state IN ('recording', 'stored', 'discarded', 'purged', 'failed'));

-- Asterisk's AsteriskRecAppDown event: a call the app never saw (or failed), connected unrecorded or
-- refused by the organisation's fail mode; whether a party's policy required it recorded.
CREATE TABLE unrecorded_calls (
    id                  bigserial PRIMARY KEY,
    linked_id           text NOT NULL UNIQUE,
    organisation_id     bigint REFERENCES organisations (id) ON DELETE CASCADE,
    organisation_name   text NOT NULL,
    caller              text NOT NULL,
    number              text NOT NULL,
    at                  timestamptz NOT NULL,
    app_failed          boolean NOT NULL,
    fail_open           boolean NOT NULL,
    required            boolean NOT NULL
);
CREATE INDEX unrecorded_calls_at ON unrecorded_calls (organisation_id, at);

-- What the service's continuous check found, once per call: its alarm is raised once.
CREATE TABLE completeness_exceptions (
    linked_id           text PRIMARY KEY,
    organisation_id     bigint NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    reason              text NOT NULL,
    detail              text NOT NULL DEFAULT '',
    call_started_at     timestamptz NOT NULL,
    found_at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX completeness_exceptions_found ON completeness_exceptions (organisation_id, found_at);
CREATE INDEX app_calls_ended_at ON app_calls (ended_at);
-- The dialplan's mark on the CDR of a call it connected or refused without the app.
ALTER TABLE cdr_records ADD COLUMN unrecorded text;

-- Alarms: each incident from raised to cleared (a restarted service carries the active ones on).
CREATE TABLE alarms (
    id                  bigserial PRIMARY KEY,
    kind                text NOT NULL,
    organisation_id     bigint REFERENCES organisations (id) ON DELETE CASCADE,
    raised_at           timestamptz NOT NULL,
    cleared_at          timestamptz,
    detail              text NOT NULL DEFAULT '',
    notified_at         timestamptz NOT NULL,
    reminders           integer NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX alarms_one_active ON alarms (kind, COALESCE(organisation_id, 0)) WHERE cleared_at IS NULL;
CREATE INDEX alarms_organisation ON alarms (organisation_id, raised_at);
