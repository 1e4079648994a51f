-- Uploads are worked as River jobs (schema river): River claims, retries
-- and rescues them, so intake's own lease and queue order go. An upload
-- keeps its progress, and the state a failed one resumes from when retried.
DROP INDEX IF EXISTS uploads_work;
ALTER TABLE uploads
    DROP COLUMN IF EXISTS lease_until,
    DROP COLUMN IF EXISTS priority,
    ADD COLUMN resume_state smallint;
