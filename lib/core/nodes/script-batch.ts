import { lockScript } from './lock-script.js';
import type { LockScript } from './lock-script.js';

/** One call of a script, as a batch carries it. */
export interface BatchedCall {
  readonly script: LockScript;
  readonly keys: readonly string[];
  readonly args: readonly (string | number)[];
}

/**
 * Several calls of the engine's scripts in one EVALSHA: under load, many locks talk to the same
 * node in the same turn of the event loop, and each command costs the client far more (a command
 * object, its promise, encoding, the reply's dispatch) than the script costs the node. The batch
 * script holds every script of the list as a function and runs the calls it is given in order,
 * each with its own KEYS and ARGV, so each still checks and writes in one step (rule 2) and the
 * order of the calls on the connection is kept. One call's error is that call's answer only.
 *
 * Layout: KEYS = the batch's shared tail (the node's guard keys, which every take ends with),
 * then every call's own keys, one after the other; ARGV = the number of calls, the tail's
 * length, then per call its script's position in the list, its key count, its argument count
 * and its arguments. A negative key count -(n + 1) means n keys of its own followed by the
 * tail: the guard keys go once per batch, not once per take. The reply is an array with one element per
 * call: its reply, or its error.
 */
export class ScriptBatch {
  readonly script: LockScript;
  private readonly position = new Map<string, number>();

  constructor(scripts: readonly LockScript[]) {
    scripts.forEach((script, index) => {
      if (!this.position.has(script.sha)) this.position.set(script.sha, index + 1);
    });
    const functions = scripts.map((script, index) => `scripts[${index + 1}] = function(KEYS, ARGV)\n${script.source}\nend`).join('\n');
    this.script = lockScript('batch', `-- nestjs-redlock batch: ${scripts.map((s) => s.name).join(', ')}\nlocal scripts = {}\n${functions}\n${RUN_CALLS}`);
  }

  /** Whether calls of this script may go in a batch. */
  carries(script: LockScript): boolean {
    return this.position.has(script.sha);
  }

  /**
   * The batch script's keys and arguments for these calls (all of scripts it carries). `tail`:
   * keys many calls end with (the node's guard keys), sent once for all of them.
   */
  layout(calls: readonly BatchedCall[], tail: readonly string[] = []): { keys: string[]; args: (string | number)[] } {
    const keys: string[] = [...tail];
    const args: (string | number)[] = [calls.length, tail.length];
    for (const call of calls) {
      const own = endsWith(call.keys, tail) ? call.keys.length - tail.length : call.keys.length;
      for (let i = 0; i < own; i++) keys.push(call.keys[i]!);
      args.push(this.position.get(call.script.sha)!, own === call.keys.length ? own : -own - 1, call.args.length);
      for (const arg of call.args) args.push(arg);
    }
    return { keys, args };
  }

  /**
   * Each call's answer from the batch's reply: its reply, or an Error. A reply that does not
   * have one element per call is not this batch's (a connection out of step): every call fails.
   */
  answers(reply: unknown, count: number): unknown[] {
    if (!Array.isArray(reply) || reply.length !== count) {
      const error = new Error(`the node answered a batch of ${count} calls with ${Array.isArray(reply) ? `${reply.length} replies` : 'something else'} (connection out of step)`);
      return new Array<unknown>(count).fill(error);
    }
    return reply;
  }
}

function endsWith(keys: readonly string[], tail: readonly string[]): boolean {
  if (tail.length === 0 || keys.length < tail.length) return false;
  const from = keys.length - tail.length;
  for (let i = 0; i < tail.length; i++) if (keys[from + i] !== tail[i]) return false;
  return true;
}

/**
 * Runs the calls. pcall: a call whose script raises (a command the user's ACL denies, OOM) is
 * answered with its error while the others run on. A nil answer would cut the array short: it
 * is sent as false (a null reply, as the call alone would give).
 */
const RUN_CALLS = `local count, t = tonumber(ARGV[1]), tonumber(ARGV[2])
local k, a = t, 2
local replies = {}
for c = 1, count do
  local which, nk, na = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
  local keys, args = {}, {}
  local own = nk < 0 and -nk - 1 or nk
  for i = 1, own do keys[i] = KEYS[k + i] end
  if nk < 0 then for i = 1, t do keys[own + i] = KEYS[i] end end
  for i = 1, na do args[i] = ARGV[a + 3 + i] end
  k, a = k + own, a + 3 + na
  local ok, reply = pcall(scripts[which], keys, args)
  if not ok then
    if type(reply) == 'table' and reply.err then replies[c] = reply else replies[c] = redis.error_reply(tostring(reply)) end
  elseif reply == nil then
    replies[c] = false
  else
    replies[c] = reply
  end
end
return replies`;
