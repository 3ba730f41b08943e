-- Per Asterisk node, the service instance that is active (a standby takes the lease once it expires).
CREATE TABLE service_leases (
    node            text PRIMARY KEY,
    holder          text NOT NULL,
    expires_at      timestamptz NOT NULL,
    acquired_at     timestamptz NOT NULL
);
