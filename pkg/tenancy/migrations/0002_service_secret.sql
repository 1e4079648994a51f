-- One platform secret lets a service act for a tenant in background work
-- (no user key is at hand there). It never leaves the services.
CREATE TABLE iam.service_secret (
    id     boolean PRIMARY KEY DEFAULT true CHECK (id),
    secret bytea NOT NULL
);
