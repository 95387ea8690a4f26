/**
 * The give scripts' announcement, per resource i once `freed` says we let go of something there:
 * PUBLISH the owner token and the withdraw flag (`<token>/<0|1>`) on the resource's wake channel
 * (ARGV[2 + i]), if wake-ups are on. Waiters count each release's nodes by that name: the flag
 * keeps a call's clean-ups between attempts (0) from being counted with its real release (1).
 * pcall: a user whose ACL lacks PUBLISH still releases; waiters then fall back to their timer.
 */
export const WAKE_UP = `if freed and ARGV[2 + i] then redis.pcall('PUBLISH', ARGV[2 + i], ARGV[1] .. '/' .. ARGV[2]) end`;

/**
 * A fair lock's announcement: as WAKE_UP's, a space, and the token first in line now (after
 * lapsed places are dropped), so that exactly that waiter wakes, in whichever process it waits.
 * `next` is a Lua variable the give script sets; nil or false = nobody in line.
 */
export const WAKE_UP_NEXT_IN_LINE = `if freed and ARGV[2 + i] then redis.pcall('PUBLISH', ARGV[2 + i], ARGV[1] .. '/' .. ARGV[2] .. ' ' .. (next or '')) end`;

/** The name a give script announces a release by (`<token>/<withdraw flag>`, as WAKE_UP builds it). */
export function releaseName(token: string, withdraw: boolean): string {
  return `${token}/${withdraw ? 1 : 0}`;
}

/** What a wake-up message says: who let go, and (fair locks) who is first in line now. */
export interface WakeUpMessage {
  /** The release's name: owner token and withdraw flag. */
  readonly releaser: string;
  /** undefined: not a fair lock's release, any waiter may go; '': a fair line that is empty. */
  readonly nextInLine: string | undefined;
}

export function parseWakeUp(message: string): WakeUpMessage {
  const space = message.indexOf(' ');
  return space < 0 ? { releaser: message, nextInLine: undefined } : { releaser: message.slice(0, space), nextInLine: message.slice(space + 1) };
}
