-- The transfers of a call the app ran, in order: who transferred whom to whom, when, and how it ended.
CREATE TABLE call_transfers (
    call_id         text NOT NULL REFERENCES app_calls (call_id) ON DELETE CASCADE,
    seq             integer NOT NULL CHECK (seq >= 1),
    at              timestamptz NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('blind', 'ring_back')),
    transferor      text NOT NULL,
    transferee      text NOT NULL,
    target          text NOT NULL,
    outcome         text NOT NULL CHECK (outcome IN ('answered', 'busy', 'no_answer', 'unavailable', 'refused',
                                                     'abandoned')),
    answered_at     timestamptz,
    PRIMARY KEY (call_id, seq)
);
