/**
 * The give scripts' announcement, per resource i once `freed` says we let go of something there:
 * PUBLISH the owner token on the resource's wake channel (ARGV[2 + i]), if wake-ups are on.
 * pcall: a user whose ACL lacks PUBLISH still releases; waiters then fall back to their timer.
 */
export const WAKE_UP = `if freed and ARGV[2 + i] then redis.pcall('PUBLISH', ARGV[2 + i], ARGV[1]) end`;
