-- The supplier x month x NAICS x category x set rollup was written by every
-- calculated batch and read by nothing since the summaries, inventory and
-- dashboard moved to emission_totals. It cost each batch an upsert of
-- about one row per line (its keys are that fine), and a recalculation two:
-- the old set's group out, left at zero, and the new set's in.
DROP TABLE emission_rollup;
