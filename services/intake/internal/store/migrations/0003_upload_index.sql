-- The calculation phase reads an upload's accepted lines back by upload_id.
-- A BRIN index only helps over ranges VACUUM has summarised; lines appended
-- since (every recent upload) fall in unsummarised ranges, which BRIN returns
-- whole, so reading back a 10-line upload scanned every partition its dates
-- touch: 0.5 s on a million lines. A btree finds them directly; its keys
-- repeat per upload, which btree deduplication stores compactly.
DROP INDEX IF EXISTS transactions_upload;
CREATE INDEX transactions_upload ON transactions (upload_id);
