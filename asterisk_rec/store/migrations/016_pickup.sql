-- Call pickup: a user dials the organisation's pickup code to answer a ringing call of their pickup group,
-- or the directed prefix and an extension to answer that user's ringing call.
ALTER TABLE organisations
    ADD COLUMN pickup_code text NOT NULL DEFAULT '*8',
    ADD COLUMN directed_pickup_prefix text NOT NULL DEFAULT '**';
ALTER TABLE users ADD COLUMN pickup_group text;
ALTER TABLE call_transfers DROP CONSTRAINT call_transfers_kind_check;
ALTER TABLE call_transfers ADD CONSTRAINT call_transfers_kind_check
    CHECK (kind IN ('blind', 'ring_back', 'forward_always', 'forward_busy', 'forward_no_answer', 'pickup'));
