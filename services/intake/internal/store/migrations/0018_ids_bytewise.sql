-- Transaction and supplier ids compare bytewise (the C collation), not by
-- the database's locale: an id is a code, not a word to sort for a reader.
-- Every B-tree insert and sort of an upload compares them, and a locale's
-- comparison costs several times a byte comparison (docs/benchmarks.md).
-- Under C.UTF-8 the order is the same; under another locale keyset pages
-- of ids now follow byte order, as the services' own sorts do.
ALTER TABLE transactions ALTER COLUMN transaction_id TYPE text COLLATE "C",
    ALTER COLUMN supplier_id TYPE text COLLATE "C";
ALTER TABLE transaction_ids ALTER COLUMN transaction_id TYPE text COLLATE "C";
