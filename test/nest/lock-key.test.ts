import 'reflect-metadata';
import { describe, expect, it } from '@jest/globals';
import { Locked, RedlockConfigError } from '../../lib/index.js';
import { transportOf } from '../../lib/keys/transports.js';
import { LockKey } from '../../lib/keys/lock-key.js';
import type { LockKeySpec } from '../../lib/keys/lock-key.js';

/* eslint-disable @typescript-eslint/no-unused-vars */

class Invoices {
  generate(invoiceId: string, options: { priority: number }) {}
  ship({ id, customer: { email } }: { id: string; customer: { email: string } }) {}
  transfer(from: string, to: string) {}
}
const proto = Invoices.prototype as unknown as Record<string, (...args: never[]) => unknown>;

function key(spec: LockKeySpec, method = 'generate'): LockKey {
  return new LockKey(spec, `Invoices#${method}`, proto[method]!);
}

const method = (...args: unknown[]) => ({ kind: 'method' as const, self: undefined, args });
const context = (type: string, ...args: unknown[]) => ({ kind: 'context' as const, transport: transportOf(type, args), self: undefined, args });

describe('LockKey: templates are parsed once, when @Locked runs', () => {
  it.each([
    ['order:<id', 'has a "<" without its ">"'],
    ['order:<a b>', 'must be <name>'],
    ['order:<>', 'must be <name>'],
    ['order:<.id>', 'must be <name>'],
    ['order:<body.__proto__>', 'may not use "__proto__"'],
    ['', 'must be a non-empty string'],
  ])('rejects the template %j with RedlockConfigError', (template, problem) => {
    expect(() => key(template)).toThrow(RedlockConfigError);
    expect(() => key(template)).toThrow(problem);
  });

  it('rejects an empty array of templates and a key of the wrong type', () => {
    expect(() => key([])).toThrow('non-empty array');
    expect(() => key(42 as never)).toThrow(RedlockConfigError);
  });

  it('rejects bad @Locked options at decoration time, naming the option', () => {
    const decorate = (options: object) => () => {
      class Jobs {
        @Locked('job', options as never)
        run() {}
      }
      return Jobs;
    };
    expect(decorate({ ttl: -5 })).toThrow('@Locked options of Jobs#run.ttl');
    expect(decorate({ onBusy: 'wait' })).toThrow("must be 'throw' or 'skip'");
    expect(decorate({ wiat: 10 })).toThrow('@Locked options of Jobs#run.wiat: is not a known option');
    expect(decorate({ autoExtend: 'yes' })).toThrow('autoExtend');
  });

  it('rejects @Locked applied twice to one method', () => {
    expect(() => {
      class Twice {
        @Locked('a')
        @Locked('b')
        run() {}
      }
      return Twice;
    }).toThrow('is applied twice');
  });
});

describe('LockKey in a provider method: <name> is the parameter of that name', () => {
  it('resolves a parameter, a path into it, and a position', () => {
    expect(key('invoice:<invoiceId>').resolve(method('i-1', { priority: 2 }))).toEqual(['invoice:i-1']);
    expect(key('p:<options.priority>').resolve(method('i-1', { priority: 2 }))).toEqual(['p:2']);
    expect(key('p:<1.priority>:<0>').resolve(method('i-1', { priority: 2 }))).toEqual(['p:2:i-1']);
  });

  it('resolves names bound by destructuring', () => {
    const k = key(['order:<id>', 'mail:<email>'], 'ship');
    expect(k.resolve(method({ id: 'o-9', customer: { email: 'a@b' } }))).toEqual(['order:o-9', 'mail:a@b']);
  });

  it('locks each resource once when two templates resolve to the same one', () => {
    expect(key(['account:<from>', 'account:<to>'], 'transfer').resolve(method('A', 'A'))).toEqual(['account:A']);
  });

  it('reports a placeholder naming no parameter, with class#method, the placeholder and the real parameters', () => {
    const k = key('invoice:<id>');
    expect(k.methodProblems()).toEqual(['placeholder <id> names no parameter of the method (its parameters: invoiceId, options)']);
    expect(() => k.resolve(method('x'))).toThrow('invalid @Locked key of Invoices#generate: placeholder <id> names no parameter');
  });

  it('fails a call whose value is missing or not a scalar, naming the placeholder', () => {
    expect(() => key('p:<options.priority>').resolve(method('i'))).toThrow(
      'invalid @Locked key of Invoices#generate: placeholder <options.priority> resolved to undefined from the parameter "options"');
    expect(() => key('p:<options>').resolve(method('i', {}))).toThrow('resolved to an object (name a field of it');
  });

  it('calls a key function with the instance and the arguments, and checks what it returns', () => {
    const self = new Invoices();
    const k = key((s: Invoices, id: string) => [`invoice:${id}`, `owner:${s.constructor.name}`]);
    expect(k.resolve({ kind: 'method', self, args: ['7'] })).toEqual(['invoice:7', 'owner:Invoices']);
    expect(() => key(() => '').resolve(method())).toThrow('key function must return a non-empty string');
    expect(() => key(() => 5 as never).resolve(method())).toThrow(RedlockConfigError);
  });
});

describe('LockKey in a handler: <x> comes from the request or message', () => {
  const req = {
    params: { id: '42' },
    query: { tenant: 't1' },
    body: { order: { id: 'o-1' } },
    headers: { 'x-tenant-id': 'h1' },
    user: { sub: 'u-5' },
  };

  it('HTTP: <id> is the route param; params/query/body/headers/user are explicit sources', () => {
    const k = key(['a:<id>', 'b:<params.id>', 'c:<query.tenant>', 'd:<body.order.id>', 'e:<headers.X-Tenant-Id>', 'f:<user.sub>']);
    expect(k.resolve(context('http', req, {}, () => undefined))).toEqual(['a:42', 'b:42', 'c:t1', 'd:o-1', 'e:h1', 'f:u-5']);
  });

  it('HTTP: a missing value is an error naming class#method and the placeholder', () => {
    expect(() => key('a:<orderId>').resolve(context('http', req))).toThrow(
      'invalid @Locked key of Invoices#generate: placeholder <orderId> resolved to undefined from the route param "orderId"');
  });

  it('RPC: <x> is data.x of [data, ctx]', () => {
    expect(key('o:<order.id>').resolve(context('rpc', { order: { id: 9 } }, {}))).toEqual(['o:9']);
  });

  it('WebSocket: <x> is data.x of [client, data]', () => {
    expect(key('room:<room>').resolve(context('ws', { id: 'socket' }, { room: 'r1' }))).toEqual(['room:r1']);
  });

  it('GraphQL: <x> is the argument x of [root, args, ctx, info]', () => {
    expect(key('order:<id>').resolve(context('graphql', undefined, { id: 'g-1' }, {}, {}))).toEqual(['order:g-1']);
  });

  it('an unknown context type is an error suggesting a key function', () => {
    expect(() => key('x:<id>').resolve(context('kafka-custom', {}))).toThrow('use a key function');
  });
});
