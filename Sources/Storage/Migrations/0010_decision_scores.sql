-- The best score of every verify and search, counted per tenant and day in 200 fixed bins of
-- width 0.01 over [-1, 1] (bin i holds scores in [-1 + i/100, -1 + (i+1)/100)): counts only,
-- never a probe or a template, so an operator can ask what share of last week's requests a
-- threshold would have matched. NULL until the day has one. The usage table's row-level
-- security, grants and purge cover them.

ALTER TABLE usage
    ADD COLUMN verify_scores bigint[] CHECK (cardinality(verify_scores) = 200),
    ADD COLUMN search_scores bigint[] CHECK (cardinality(search_scores) = 200);
