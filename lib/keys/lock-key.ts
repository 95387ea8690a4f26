import type { Transport } from './transports.js';
import { RedlockConfigError } from '../core/index.js';
import { parameterNames } from './parameter-names.js';
import type { ParameterBinding, ParameterNames } from './parameter-names.js';

/** A key function: gets the instance and the call's arguments, returns the resource(s) to lock. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type LockKeyFunction<T = any, A extends any[] = any[]> = (self: T, ...args: A) => string | readonly string[];

/** What `@Locked(key)` accepts: a template, an array of templates (one lock over all), or a function. */
export type LockKeySpec = string | readonly string[] | LockKeyFunction;

/** Where a key is resolved: a provider method's own arguments, or a handler's execution context. */
export type KeySource =
  | { readonly kind: 'method'; readonly self: unknown; readonly args: readonly unknown[] }
  | { readonly kind: 'context'; readonly transport: Transport; readonly self: unknown; readonly args: readonly unknown[] };

interface Placeholder {
  /** As written, e.g. `<order.id>`, for messages. */
  readonly text: string;
  readonly path: readonly string[];
}

type Part = string | Placeholder;

const SEGMENT = /^(?:[A-Za-z_$][\w$-]*|\d+)$/;
const FIRST_SEGMENT = /^(?:[A-Za-z_$][\w$]*|\d+)$/;
/** Segments that would walk into an object's machinery instead of its data. */
const FORBIDDEN_SEGMENTS = new Set(['__proto__', 'prototype', 'constructor']);
/** Explicit sources of an HTTP request; a bare `<x>` means the route param `x`. */
const HTTP_SOURCES = new Set(['params', 'query', 'body', 'headers', 'user']);

/**
 * A `@Locked` key, parsed once when the decorator runs and resolved on every call. Templates hold
 * `<path>` placeholders whose meaning depends on where the method is called from: the method's
 * own parameters (provider methods) or the request / message of a controller handler.
 */
export class LockKey {
  private readonly templates: readonly (readonly Part[])[] | undefined;
  private readonly fn: LockKeyFunction | undefined;
  private parameters: ParameterNames | undefined;

  /** `where` is `Class#method`, used in every message. */
  constructor(
    spec: LockKeySpec,
    readonly where: string,
    private readonly method: (...args: never[]) => unknown,
  ) {
    if (typeof spec === 'function') {
      this.fn = spec;
      return;
    }
    const list = typeof spec === 'string' ? [spec] : spec;
    if (!Array.isArray(list) || list.length === 0) {
      throw this.error('must be a template string, a non-empty array of them, or a function (self, ...args) => string | string[]');
    }
    this.templates = list.map((template, i) => this.parse(template, list.length === 1 ? '' : `[${i}]`));
  }

  /**
   * For a provider method: the named placeholders that name no parameter. Checked at start-up
   * (an app must not start with a key that can never resolve) and again on every call.
   */
  methodProblems(): string[] {
    if (!this.templates) return [];
    const problems: string[] = [];
    for (const placeholder of this.templates.flat().filter((p): p is Placeholder => typeof p !== 'string')) {
      const problem = this.parameterProblem(placeholder);
      if (problem) problems.push(problem);
    }
    return problems;
  }

  /** The resources to lock for one call, deduplicated (a transfer from an account to itself locks it once). */
  resolve(source: KeySource): string[] {
    let resources: readonly string[];
    if (this.fn) {
      const result = this.fn(source.self, ...source.args);
      resources = this.checkResult(result);
    } else {
      resources = this.templates!.map((parts) => parts.map((part) => (typeof part === 'string' ? part : this.value(part, source))).join(''));
    }
    return [...new Set(resources)];
  }

  private parse(template: unknown, label: string): Part[] {
    if (typeof template !== 'string' || template.length === 0) {
      throw this.error(`template${label} must be a non-empty string`);
    }
    const parts: Part[] = [];
    let rest = template;
    while (rest.length > 0) {
      const open = rest.indexOf('<');
      if (open === -1) {
        parts.push(rest);
        break;
      }
      if (open > 0) parts.push(rest.slice(0, open));
      const close = rest.indexOf('>', open);
      if (close === -1) throw this.error(`template${label} "${template}" has a "<" without its ">"`);
      const text = rest.slice(open, close + 1);
      const path = text.slice(1, -1).split('.');
      if (!FIRST_SEGMENT.test(path[0]!) || !path.slice(1).every((s) => SEGMENT.test(s))) {
        throw this.error(`placeholder ${text} in template${label} must be <name>, <name.path.to.value> or <0> / <0.path>`);
      }
      const forbidden = path.find((s) => FORBIDDEN_SEGMENTS.has(s));
      if (forbidden) throw this.error(`placeholder ${text} may not use "${forbidden}"`);
      parts.push({ text, path });
      rest = rest.slice(close + 1);
    }
    return parts;
  }

  private value(placeholder: Placeholder, source: KeySource): string {
    let value: unknown;
    let origin: string;
    if (source.kind === 'method') {
      const problem = this.parameterProblem(placeholder);
      if (problem) throw this.error(problem);
      const [first, ...path] = placeholder.path as [string, ...string[]];
      const binding = this.binding(first);
      if (binding) {
        const argument = binding.rest ? source.args.slice(binding.index) : source.args[binding.index];
        value = walk(argument, [...binding.path!, ...path]);
        origin = `parameter "${first}"`;
      } else {
        value = walk(source.args[Number(first)], path);
        origin = `argument #${first}`;
      }
    } else {
      ({ value, origin } = contextValue(placeholder, source.transport, (problem) => this.error(problem)));
    }
    if (typeof value === 'string') return value;
    if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value);
    const kind = Array.isArray(value) ? 'an array' : typeof value === 'object' ? 'an object' : `a ${typeof value}`;
    const got = value === undefined || value === null ? String(value) : `${kind} (name a field of it, e.g. <${placeholder.path.join('.')}.id>)`;
    throw this.error(`placeholder ${placeholder.text} resolved to ${got} from the ${origin}`);
  }

  private parameterProblem(placeholder: Placeholder): string | undefined {
    const first = placeholder.path[0]!;
    if (/^\d+$/.test(first)) return undefined;
    this.parameters ??= parameterNames(this.method);
    if (!this.parameters.ok) {
      return `placeholder ${placeholder.text} names a parameter, but the method's parameter names cannot be read ` +
        `(${this.parameters.reason}); use a position such as <0> or a key function`;
    }
    const binding = this.parameters.names.get(first);
    if (!binding) {
      const known = [...this.parameters.names.keys()];
      return `placeholder ${placeholder.text} names no parameter of the method ` +
        `(its parameters: ${known.length ? known.join(', ') : 'none'})`;
    }
    if (binding.path === undefined) {
      return `placeholder ${placeholder.text} names "${first}", which comes from a computed destructuring key; use a position such as <0.field>`;
    }
    return undefined;
  }

  private binding(name: string): ParameterBinding | undefined {
    return this.parameters?.ok ? this.parameters.names.get(name) : undefined;
  }

  private checkResult(result: unknown): readonly string[] {
    const list = typeof result === 'string' ? [result] : result;
    if (!Array.isArray(list) || list.length === 0 || !list.every((r) => typeof r === 'string' && r.length > 0)) {
      throw this.error('key function must return a non-empty string or a non-empty array of non-empty strings');
    }
    return list;
  }

  private error(problem: string): RedlockConfigError {
    return new RedlockConfigError(`@Locked key of ${this.where}`, problem);
  }
}

/** Handler contexts: where `<x>` points in what the transport carries. */
function contextValue(
  placeholder: Placeholder,
  transport: Transport,
  error: (problem: string) => Error,
): { value: unknown; origin: string } {
  const path = placeholder.path;
  switch (transport.kind) {
    case 'http': {
      const explicit = path.length > 1 && HTTP_SOURCES.has(path[0]!);
      const [source, ...rest] = explicit ? path : ['params', ...path];
      // Node lower-cases header names.
      const field = source === 'headers' ? rest.map((s, i) => (i === 0 ? s.toLowerCase() : s)) : rest;
      const origin = source === 'params' ? `route param "${field.join('.')}"` : `request ${source}`;
      return { value: walk(transport.request?.[source!], field), origin };
    }
    case 'rpc':
      return { value: walk(transport.data, path), origin: 'message payload (data)' };
    case 'ws':
      return { value: walk(transport.data, path), origin: 'WebSocket message data' };
    case 'graphql':
      return { value: walk(transport.args, path), origin: 'GraphQL arguments' };
    default:
      throw error(`placeholder ${placeholder.text} cannot be resolved in a "${transport.type}" context; use a key function`);
  }
}

function walk(value: unknown, path: readonly string[]): unknown {
  let current = value;
  for (const segment of path) {
    if (current === null || current === undefined || (typeof current !== 'object' && typeof current !== 'function')) return undefined;
    current = (current as Record<string, unknown>)[segment];
  }
  return typeof current === 'function' ? undefined : current;
}
