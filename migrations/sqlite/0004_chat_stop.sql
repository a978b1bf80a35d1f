-- A stop that works whichever instance it reaches: the instance that takes the stop marks the
-- streaming answer here, and the instance that writes it sees the mark at its next progress save
-- (every second) and stops the model. Unix milliseconds; NULL while no stop was asked for.

ALTER TABLE messages ADD COLUMN stop_requested_at INTEGER;
