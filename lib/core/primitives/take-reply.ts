import type { NodeStanding } from '../nodes/node-standing.js';

/** The reply codes of a take script (the `detail` of its reply). */
export const TAKE_DETAIL = { taken: 0, busy: 1, mismatch: 2, fenceBehind: 3, fenceInDoubt: 4 } as const;

/** Fields of the short replies (see TAKE_PREAMBLE): taken, and busy. */
const SHORT_TAKEN = 2;
const SHORT_BUSY = 3;

/**
 * The part every take script shares. KEYS end with the node's four guard keys (marker,
 * quarantine, birth, generation; nodes/amnesia-guard.ts); ARGV[1] = the owner token, ARGV[2] =
 * the lease in ms. Rule 15: the reply also says where this node stands, read in the same step,
 * so telling an amnesiac node costs no extra round trip. The marker keeps the largest lease any
 * client asked of this node.
 *
 * A take script replies `reply(taken, detail, value, fence)`, which becomes
 * `{taken, standing, ms, birth, token, detail, value, fence}` (read by takeReplyOf below), or
 * on a served node outside a birth, without a fence, `{token, largestLease}` when taken and
 * `{token, largestLease, holderMs}` when busy: the answers of almost every call, and the
 * cheapest to send and read on the hot path.
 */
export const TAKE_PREAMBLE = `local g = #KEYS - 3
local generation = KEYS[g + 3]
local token, lease = ARGV[1], tonumber(ARGV[2])
local standing, ms, born = 2, 0, 0
local recorded = tonumber(redis.call('GET', KEYS[g]))
if recorded then
  if recorded < lease then
    redis.call('SET', KEYS[g], lease)
    recorded = lease
  end
  local left = redis.call('PTTL', KEYS[g + 1])
  if left > 0 then standing, ms = 1, left else standing, ms = 0, recorded end
  born = math.max(redis.call('PTTL', KEYS[g + 2]), 0)
end
local function reply(taken, detail, value, fence)
  -- the usual answers, from a served node without a fence, are short: the token, the largest
  -- lease, and when busy the holder's time left (${SHORT_TAKEN} and ${SHORT_BUSY} fields)
  if standing == 0 and born == 0 and (fence or 0) == 0 then
    if detail == ${TAKE_DETAIL.taken} then return {token, ms} end
    if detail == ${TAKE_DETAIL.busy} and type(value) == 'number' then return {token, ms, value} end
  end
  -- a nil would end the array early: every field is sent
  return {taken, standing, ms, born, token, detail, value or 0, fence or 0}
end
local now
local function nodeTime()
  if not now then
    local t = redis.call('TIME')
    now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  end
  return now
end
`;

/** What one node said to a take, besides its standing. */
export type TakeDetail =
  | { readonly kind: 'taken' }
  /** Held by another owner; `holderMs` = how long the hold that blocks us still runs, if known. */
  | { readonly kind: 'busy'; readonly holderMs: number | undefined }
  /** Held as another kind of lock (`theirs`: 'read', 'write' or a semaphore's limit). */
  | { readonly kind: 'mismatch'; readonly theirs: string }
  /** Fenced: the node already accepted a fence at least as large as the proposal. */
  | { readonly kind: 'fence-behind' }
  /** Fenced: the node's fence values may be older than it acknowledged (it restarted or lost data). */
  | { readonly kind: 'fence-in-doubt' };

export interface TakeReply {
  readonly standing: NodeStanding;
  readonly detail: TakeDetail;
  /** Fenced: the largest fence the node holds for the lock's resources (a lower bound when in doubt). */
  readonly fence: number;
}

/**
 * Reads a take script's reply. Anything else, or another call's token, is a failure of this
 * node: a reply paired with the wrong command (a proxy or a connection out of step) must never
 * count as a vote.
 */
export function takeReplyOf(reply: unknown, token: string): TakeReply {
  if (Array.isArray(reply) && (reply.length === SHORT_TAKEN || reply.length === SHORT_BUSY) && String(reply[0]) === token) {
    const largestLease = Number(reply[1]);
    if (reply.length === SHORT_TAKEN) return { standing: { kind: 'served', taken: true, largestLease, birthMs: 0 }, detail: TAKEN, fence: 0 };
    return { standing: { kind: 'served', taken: false, largestLease, birthMs: 0 }, detail: busyFor(reply[2]), fence: 0 };
  }
  if (!Array.isArray(reply) || reply.length < 6 || String(reply[4]) !== token) {
    throw new Error('the node answered with a reply that is not this acquire\'s own (connection out of step)');
  }
  const [taken, standingCode, ms, birthMs] = reply.slice(0, 4).map(Number);
  const isTaken = taken === 1;
  const standing: NodeStanding =
    standingCode === 1
      ? { kind: 'quarantined', taken: isTaken, ms }
      : standingCode === 2
        ? { kind: 'unmarked', taken: isTaken }
        : { kind: 'served', taken: isTaken, largestLease: ms, birthMs };
  return { standing, detail: detailOf(Number(reply[5]), reply[6]), fence: Number(reply[7] ?? 0) || 0 };
}

const TAKEN: TakeDetail = Object.freeze({ kind: 'taken' });

function busyFor(value: unknown): TakeDetail {
  const holderMs = Number(value);
  return { kind: 'busy', holderMs: Number.isFinite(holderMs) && holderMs > 0 ? holderMs : undefined };
}

function detailOf(code: number, value: unknown): TakeDetail {
  switch (code) {
    case TAKE_DETAIL.taken:
      return TAKEN;
    case TAKE_DETAIL.mismatch:
      return { kind: 'mismatch', theirs: String(value) };
    case TAKE_DETAIL.fenceBehind:
      return { kind: 'fence-behind' };
    case TAKE_DETAIL.fenceInDoubt:
      return { kind: 'fence-in-doubt' };
    default:
      return busyFor(value);
  }
}
