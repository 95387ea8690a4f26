import { describe, expect, it } from '@jest/globals';
import { parameterNames } from '../../lib/keys/parameter-names.js';

/* eslint-disable @typescript-eslint/no-unused-vars */

function names(fn: (...args: never[]) => unknown): Record<string, unknown> {
  const result = parameterNames(fn);
  if (!result.ok) throw new Error(result.reason);
  return Object.fromEntries(result.names);
}

class Sample {
  plain(invoiceId: string, count: number) {}
  async asyncMethod(a: string, b = 'x, y)') {}
  *generator(a: number) {}
  withDefaults(a = Math.max(1, 2), b = { c: [1, 2] }, c = `t${'}'}(`, d = /[)]/g) {}
  destructured({ id, customer: { email }, 'quoted-key': q, items: [first] }: { id: string; customer: { email: string }; 'quoted-key': string; items: string[] }, rest = 1) {}
  renamed({ id: orderId = 'none' }: { id?: string }) {}
  computed({ [String('k')]: value }: Record<string, string>) {}
  rest(first: string, ...others: string[]) {}
  commented(/* a, b */ a: string, // c
    b: string) {}
  ['computed' + 'Name'](x: string) {}
  'quoted name'(y: string) {}
  none() {}
}

const proto = Sample.prototype as unknown as Record<string, (...args: never[]) => unknown>;

describe('parameterNames (reads names from the source, never guesses)', () => {
  it('reads plain, async and generator method parameters by position', () => {
    expect(names(proto.plain!)).toEqual({ invoiceId: { index: 0, path: [], rest: false }, count: { index: 1, path: [], rest: false } });
    expect(Object.keys(names(proto.asyncMethod!))).toEqual(['a', 'b']);
    expect(Object.keys(names(proto.generator!))).toEqual(['a']);
  });

  it('is not fooled by commas, parentheses and braces inside default values, strings, templates and regexes', () => {
    expect(Object.keys(names(proto.withDefaults!))).toEqual(['a', 'b', 'c', 'd']);
  });

  it('maps destructured names to a path into their argument', () => {
    expect(names(proto.destructured!)).toEqual({
      id: { index: 0, path: ['id'], rest: false },
      email: { index: 0, path: ['customer', 'email'], rest: false },
      q: { index: 0, path: ['quoted-key'], rest: false },
      first: { index: 0, path: ['items', '0'], rest: false },
      rest: { index: 1, path: [], rest: false },
    });
    expect(names(proto.renamed!)).toEqual({ orderId: { index: 0, path: ['id'], rest: false } });
  });

  it('knows a name from a computed destructuring key but not its path', () => {
    expect(names(proto.computed!)).toEqual({ value: { index: 0, path: undefined, rest: false } });
  });

  it('marks rest parameters, skips comments, and handles computed and quoted method names', () => {
    expect(names(proto.rest!)).toEqual({ first: { index: 0, path: [], rest: false }, others: { index: 1, path: [], rest: true } });
    expect(Object.keys(names(proto.commented!))).toEqual(['a', 'b']);
    expect(Object.keys(names(proto.computedName!))).toEqual(['x']);
    expect(Object.keys(names(proto['quoted name']!))).toEqual(['y']);
    expect(names(proto.none!)).toEqual({});
  });

  it('reads arrow functions and plain functions', () => {
    expect(Object.keys(names((a: string, b: string) => a + b))).toEqual(['a', 'b']);
    expect(Object.keys(names(((single: string) => single) as never))).toEqual(['single']);
    expect(Object.keys(names(function named(this: unknown, z: string) {}))).toEqual(['z']);
  });

  it('reports a function whose source is not readable (native or bound) instead of guessing', () => {
    expect(parameterNames(Math.max)).toEqual({ ok: false, reason: 'it is native or bound code' });
    expect(parameterNames(proto.plain!.bind(null))).toEqual({ ok: false, reason: 'it is native or bound code' });
  });

  it('sees only the wrapper\'s names when another decorator wrapped the method first', () => {
    const wrapped = function (this: unknown, ...args: unknown[]) { return args; };
    expect(names(wrapped)).toEqual({ args: { index: 0, path: [], rest: true } });
  });
});
