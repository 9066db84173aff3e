-- The resolution clock stops while a conversation waits on the customer (pending) or is
-- snoozed. `paused_at` is when the current pause began (NULL while the clock runs);
-- `paused_log` lists the finished pauses as "FROM/TO;" pairs of stored timestamps, so each
-- policy can count them in its own business hours.
ALTER TABLE conversations ADD COLUMN paused_at TEXT;
ALTER TABLE conversations ADD COLUMN paused_log TEXT NOT NULL DEFAULT '';
