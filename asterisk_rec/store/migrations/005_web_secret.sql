-- Secrets the service makes itself and every process shares: the key that signs the portal's sessions.
CREATE TABLE service_secrets (
    name        text PRIMARY KEY,
    value       text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
