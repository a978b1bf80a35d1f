-- Guests: anonymous users (GoTrue's `is_anonymous`) and how many messages each has sent.

-- 1 for an anonymous user, until an email address is added (confirmed) to the account. Such a
-- user has no address: `email` holds the user's id, which no address can equal (it has no `@`),
-- and the service shows it as "".
ALTER TABLE users ADD COLUMN is_anonymous INTEGER NOT NULL DEFAULT 0;
-- Pruning looks for anonymous users not seen for a while.
CREATE INDEX users_anonymous_last_sign_in ON users (is_anonymous, last_sign_in_at);

-- Messages a guest has sent, counted apart from the messages themselves: deleting a chat does
-- not give messages back. `user_id` has no foreign key, as in `chat_sessions`.
CREATE TABLE chat_guest_usage (
    user_id  TEXT PRIMARY KEY,
    messages INTEGER NOT NULL
);
