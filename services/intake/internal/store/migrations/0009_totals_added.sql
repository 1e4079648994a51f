-- An upload's totals are added to its suppliers in one transaction and the
-- upload is marked succeeded in the next, once every cache has let go of
-- the old totals; totals_added keeps a retry between the two from adding
-- them twice.
ALTER TABLE uploads ADD COLUMN totals_added boolean NOT NULL DEFAULT false;
