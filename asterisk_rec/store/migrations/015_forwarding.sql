-- Per-user call forwarding: where calls go always, when busy, or after ringing unanswered (NULL: off).
ALTER TABLE users
    ADD COLUMN forward_always text,
    ADD COLUMN forward_busy text,
    ADD COLUMN forward_no_answer text,
    ADD COLUMN forward_no_answer_seconds integer NOT NULL DEFAULT 20
        CHECK (forward_no_answer_seconds BETWEEN 5 AND 120);
-- A forwarded call's hop is in its chain beside its transfers.
ALTER TABLE call_transfers DROP CONSTRAINT call_transfers_kind_check;
ALTER TABLE call_transfers ADD CONSTRAINT call_transfers_kind_check
    CHECK (kind IN ('blind', 'ring_back', 'forward_always', 'forward_busy', 'forward_no_answer'));
