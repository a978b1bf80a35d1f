-- The admin API: bans, invitations and soft deletion, as in GoTrue's users table.

-- Until when the user may not sign in (NULL: not banned).
ALTER TABLE users ADD COLUMN banned_until INTEGER;
-- When an administrator invited the address (POST /invite, generate_link type invite).
ALTER TABLE users ADD COLUMN invited_at INTEGER;
-- When an administrator soft-deleted the user: the row stays, the address and sign-ins are gone.
ALTER TABLE users ADD COLUMN deleted_at INTEGER;
