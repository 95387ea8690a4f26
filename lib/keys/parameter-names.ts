/**
 * Where a name a key template may use lives in a method's arguments: `index` into the argument
 * list, then `path` into that argument (`rest`: the arguments from `index` on, as an array).
 * `path` is undefined when the name comes from a computed destructuring key we cannot follow.
 */
export interface ParameterBinding {
  readonly index: number;
  readonly path: readonly string[] | undefined;
  readonly rest: boolean;
}

export type ParameterNames =
  | { readonly ok: true; readonly names: ReadonlyMap<string, ParameterBinding> }
  | { readonly ok: false; readonly reason: string };

type Token = { readonly kind: 'name' | 'punct' | 'literal'; readonly text: string };

/**
 * The parameter names of a function, read from its source text (`fn.toString()`), including
 * names bound by destructuring (`{ id, customer: { email } }` gives `id` and `email` with their
 * paths) and parameters with default values. It never guesses: source it cannot read (a native
 * or bound function, a wrapper from another decorator, minified code it still parses but that
 * has other names) comes back as `ok: false` or simply lacks the name, and the caller reports it.
 */
export function parameterNames(fn: (...args: never[]) => unknown): ParameterNames {
  const source = Function.prototype.toString.call(fn);
  // Native and bound functions print `function name() { [native code] }`: their names are gone.
  if (/\{\s*\[native code\]\s*\}\s*$/.test(source)) return { ok: false, reason: 'it is native or bound code' };
  let tokens: Token[];
  try {
    tokens = tokenize(source);
  } catch (error) {
    return { ok: false, reason: (error as Error).message };
  }
  const list = parameterList(tokens);
  if (!list) return { ok: false, reason: 'its parameter list cannot be read from its source' };
  const names = new Map<string, ParameterBinding>();
  try {
    splitTopLevel(list, ',').forEach((param, index) => bindParameter(param, index, names));
  } catch (error) {
    return { ok: false, reason: (error as Error).message };
  }
  return { ok: true, names };
}

/** The tokens between the parentheses of the parameter list (or the lone arrow parameter). */
function parameterList(tokens: readonly Token[]): Token[] | undefined {
  let depth = 0;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.kind !== 'punct') continue;
    if (t.text === '=>' && depth === 0) {
      // `x => …` / `async x => …`: a single parameter without parentheses.
      const previous = tokens[i - 1];
      return previous?.kind === 'name' ? [previous] : undefined;
    }
    if (t.text === '[' || t.text === '{') depth++;
    else if (t.text === ']' || t.text === '}') depth--;
    else if (t.text === '(' && depth === 0) {
      // A computed method name (`[a(1)](x)`) sits inside brackets, so depth 0 is the list.
      const end = matching(tokens, i);
      return end === undefined ? undefined : tokens.slice(i + 1, end);
    }
  }
  return undefined;
}

function bindParameter(param: readonly Token[], index: number, names: Map<string, ParameterBinding>): void {
  if (param.length === 0) return; // a trailing comma
  const [target] = splitDefault(param);
  if (target[0]?.text === '...') {
    const name = singleName(target.slice(1));
    if (name === undefined) throw new Error(`parameter #${index} is a destructured rest parameter`);
    add(names, name, { index, path: [], rest: true });
    return;
  }
  bindTarget(target, index, [], names);
}

/** A binding target: a name, an object pattern or an array pattern. */
function bindTarget(target: readonly Token[], index: number, path: readonly string[] | undefined, names: Map<string, ParameterBinding>): void {
  const name = singleName(target);
  if (name !== undefined) {
    add(names, name, { index, path, rest: false });
    return;
  }
  const open = target[0]?.text;
  const close = target[target.length - 1]?.text;
  if (open === '{' && close === '}') {
    for (const entry of splitTopLevel(target.slice(1, -1), ',')) bindObjectEntry(entry, index, path, names);
    return;
  }
  if (open === '[' && close === ']') {
    splitTopLevel(target.slice(1, -1), ',').forEach((element, position) => {
      if (element.length === 0) return; // a hole
      const [inner] = splitDefault(element);
      if (inner[0]?.text === '...') {
        bindTarget(inner.slice(1), index, undefined, names);
        return;
      }
      bindTarget(inner, index, path && [...path, String(position)], names);
    });
    return;
  }
  throw new Error(`parameter #${index} has a form that cannot be read (${target.map((t) => t.text).join(' ')})`);
}

function bindObjectEntry(entry: readonly Token[], index: number, path: readonly string[] | undefined, names: Map<string, ParameterBinding>): void {
  if (entry.length === 0) return;
  if (entry[0]!.text === '...') {
    // `{ a, ...others }`: `others.x` is argument.x for any x not named before it.
    bindTarget(entry.slice(1), index, path, names);
    return;
  }
  const colon = topLevelIndex(entry, ':');
  if (colon === -1) {
    // Shorthand `{ id }` or `{ id = 1 }`.
    const [target] = splitDefault(entry);
    const name = singleName(target);
    if (name === undefined) throw new Error(`parameter #${index} has a destructuring entry that cannot be read`);
    add(names, name, { index, path: path && [...path, name], rest: false });
    return;
  }
  const keyTokens = entry.slice(0, colon);
  const [target] = splitDefault(entry.slice(colon + 1));
  const key = propertyKey(keyTokens);
  bindTarget(target, index, key === undefined || path === undefined ? undefined : [...path, key], names);
}

/** `id`, `'id'`, `"id"`, `0`; undefined for a computed key `[expr]`. */
function propertyKey(tokens: readonly Token[]): string | undefined {
  if (tokens.length !== 1) return undefined;
  const t = tokens[0]!;
  if (t.kind === 'name') return t.text;
  if (t.kind === 'literal' && /^(['"]).*\1$/s.test(t.text)) return t.text.slice(1, -1);
  if (t.kind === 'literal' && /^\d+$/.test(t.text)) return t.text;
  return undefined;
}

function add(names: Map<string, ParameterBinding>, name: string, binding: ParameterBinding): void {
  names.set(name, binding);
}

function singleName(tokens: readonly Token[]): string | undefined {
  return tokens.length === 1 && tokens[0]!.kind === 'name' ? tokens[0]!.text : undefined;
}

/** `target = default` → [target, default]; the default is never evaluated. */
function splitDefault(tokens: readonly Token[]): [readonly Token[], readonly Token[]] {
  const eq = topLevelIndex(tokens, '=');
  return eq === -1 ? [tokens, []] : [tokens.slice(0, eq), tokens.slice(eq + 1)];
}

function topLevelIndex(tokens: readonly Token[], text: string): number {
  let depth = 0;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.kind !== 'punct') continue;
    if (OPEN.has(t.text)) depth++;
    else if (CLOSE.has(t.text)) depth--;
    else if (depth === 0 && t.text === text) return i;
  }
  return -1;
}

function splitTopLevel(tokens: readonly Token[], separator: string): Token[][] {
  const parts: Token[][] = [[]];
  let depth = 0;
  for (const t of tokens) {
    if (t.kind === 'punct' && OPEN.has(t.text)) depth++;
    else if (t.kind === 'punct' && CLOSE.has(t.text)) depth--;
    if (depth === 0 && t.kind === 'punct' && t.text === separator) parts.push([]);
    else parts[parts.length - 1]!.push(t);
  }
  if (parts.length === 1 && parts[0]!.length === 0) return [];
  return parts;
}

function matching(tokens: readonly Token[], open: number): number | undefined {
  let depth = 0;
  for (let i = open; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.kind !== 'punct') continue;
    if (OPEN.has(t.text)) depth++;
    else if (CLOSE.has(t.text) && --depth === 0) return i;
  }
  return undefined;
}

const OPEN = new Set(['(', '[', '{']);
const CLOSE = new Set([')', ']', '}']);
const PUNCTUATORS = ['...', '=>', '==', '!=', '<=', '>=', '&&', '||', '??', '?.', '**'];
const NAME_START = /[\p{ID_Start}$_]/u;
const NAME_PART = /[\p{ID_Continue}$\u200c\u200d]/u;

/**
 * A small JavaScript tokenizer: just enough to find the parameter list and its top-level
 * commas and `=` signs. Strings, template literals (with nested `${…}`), comments and regular
 * expression literals are skipped as single tokens so their contents never count as structure.
 */
function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const c = source[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (source.startsWith('//', i)) {
      const end = source.indexOf('\n', i);
      i = end === -1 ? source.length : end;
    } else if (source.startsWith('/*', i)) {
      const end = source.indexOf('*/', i + 2);
      if (end === -1) throw new Error('its source has an unterminated comment');
      i = end + 2;
    } else if (c === '"' || c === "'") {
      const end = skipString(source, i);
      tokens.push({ kind: 'literal', text: source.slice(i, end) });
      i = end;
    } else if (c === '`') {
      const end = skipTemplate(source, i);
      tokens.push({ kind: 'literal', text: source.slice(i, end) });
      i = end;
    } else if (c === '/' && regexAllowedAfter(tokens[tokens.length - 1])) {
      const end = skipRegex(source, i);
      tokens.push({ kind: 'literal', text: source.slice(i, end) });
      i = end;
    } else if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(source[i + 1] ?? ''))) {
      let end = i + 1;
      while (end < source.length && /[\w.]/.test(source[end]!)) end++;
      tokens.push({ kind: 'literal', text: source.slice(i, end) });
      i = end;
    } else if (NAME_START.test(c) || c === '\\' || c === '#') {
      let end = i + 1;
      while (end < source.length && (NAME_PART.test(source[end]!) || source[end] === '\\')) end++;
      tokens.push({ kind: 'name', text: source.slice(i, end) });
      i = end;
    } else {
      const text = PUNCTUATORS.find((p) => source.startsWith(p, i)) ?? c;
      tokens.push({ kind: 'punct', text });
      i += text.length;
    }
  }
  return tokens;
}

function regexAllowedAfter(previous: Token | undefined): boolean {
  if (previous === undefined) return true;
  if (previous.kind === 'literal') return false;
  if (previous.kind === 'name') return ['return', 'typeof', 'instanceof', 'in', 'of', 'new', 'delete', 'void', 'throw', 'case', 'do', 'else'].includes(previous.text);
  return ![')', ']', '}'].includes(previous.text);
}

function skipString(source: string, start: number): number {
  const quote = source[start];
  for (let i = start + 1; i < source.length; i++) {
    if (source[i] === '\\') i++;
    else if (source[i] === quote) return i + 1;
  }
  throw new Error('its source has an unterminated string');
}

function skipTemplate(source: string, start: number): number {
  for (let i = start + 1; i < source.length; i++) {
    if (source[i] === '\\') i++;
    else if (source[i] === '`') return i + 1;
    else if (source.startsWith('${', i)) i = skipBraces(source, i + 1) - 1;
  }
  throw new Error('its source has an unterminated template literal');
}

/** From an opening `{`, the index after its matching `}`, skipping nested literals. */
function skipBraces(source: string, open: number): number {
  let depth = 0;
  let previous: Token | undefined;
  for (let i = open; i < source.length; ) {
    const c = source[i]!;
    if (c === '{') depth++;
    else if (c === '}' && --depth === 0) return i + 1;
    if (c === '"' || c === "'") i = skipString(source, i);
    else if (c === '`') i = skipTemplate(source, i);
    else if (c === '/' && regexAllowedAfter(previous)) i = skipRegex(source, i);
    else i++;
    if (!/\s/.test(c)) previous = { kind: /[\w$]/.test(c) ? 'name' : 'punct', text: c };
  }
  throw new Error('its source has an unterminated template expression');
}

function skipRegex(source: string, start: number): number {
  let inClass = false;
  for (let i = start + 1; i < source.length; i++) {
    const c = source[i];
    if (c === '\\') i++;
    else if (c === '[') inClass = true;
    else if (c === ']') inClass = false;
    else if (c === '/' && !inClass) {
      let end = i + 1;
      while (end < source.length && /[a-z]/i.test(source[end]!)) end++;
      return end;
    } else if (c === '\n') break;
  }
  throw new Error('its source has an unterminated regular expression');
}
