import { describe, expect, it } from '@jest/globals';
import { packageOf, parseMarkdownBlocks } from './readme-blocks.js';
import { pointAtNodes } from './run-example.js';

// The parts of the checked-examples test that decide what is checked, and how.
const md = (...lines: string[]) => lines.join('\n');

describe('parseMarkdownBlocks', () => {
  it('finds each block with its language, first code line, code and the prose above it', () => {
    const blocks = parseMarkdownBlocks(md('# Title', 'Some text.', '', '```ts', 'const a = 1;', '```', 'More.', '```sh', 'npm test', '```'), 'X.md');
    expect(blocks.map((b) => [b.lang, b.line, b.code])).toEqual([['ts', 5, 'const a = 1;\n'], ['sh', 9, 'npm test\n']]);
    expect(blocks[0].prose).toBe('# Title\nSome text.\n');
    expect(blocks[1].prose).toBe('More.');
  });

  it('reads the marker on the last non-blank line above a block', () => {
    const [block] = parseMarkdownBlocks(md('<!-- example: runs, needs @nestjs/testing supertest -->', '', '```ts', 'x', '```'), 'X.md');
    expect(block.runs).toBe(true);
    expect(block.fragment).toBe(false);
    expect(block.needs).toEqual(['@nestjs/testing', 'supertest']);
  });

  it('takes no marker from further up, and none from a plain comment', () => {
    const blocks = parseMarkdownBlocks(md('<!-- example: fragment -->', 'text', '```ts', 'x', '```', '<!-- a note -->', '```ts', 'y', '```'), 'X.md');
    expect(blocks.map((b) => b.fragment)).toEqual([false, false]);
  });

  it('refuses an unknown flag, a runnable fragment and an unclosed block, naming the line', () => {
    expect(() => parseMarkdownBlocks(md('text', '<!-- example: run -->', '```ts', 'x', '```'), 'X.md')).toThrow('X.md:2: unknown example flag "run"');
    expect(() => parseMarkdownBlocks(md('<!-- example: fragment, runs -->', '```ts', 'x', '```'), 'X.md')).toThrow('X.md:1: a fragment cannot run');
    expect(() => parseMarkdownBlocks(md('```ts', 'x'), 'X.md')).toThrow('X.md:1: code block never closed');
  });
});

describe('packageOf', () => {
  it('names the package of a bare specifier, and none for relative paths and node: built-ins', () => {
    expect(packageOf('@nestjs/common')).toBe('@nestjs/common');
    expect(packageOf('nestjs-redlock/core')).toBe('nestjs-redlock');
    expect(packageOf('@scope/name/deep/path')).toBe('@scope/name');
    expect(packageOf('./orders.service.js')).toBeUndefined();
    expect(packageOf('node:fs')).toBeUndefined();
  });
});

describe('pointAtNodes', () => {
  it('maps the i-th distinct redis:// URL to the i-th node, the same URL to the same node', () => {
    const code = "new Redlock(['redis://10.0.0.1:6379', 'redis://10.0.0.2:6379']); new Redis('redis://10.0.0.1:6379'); 'rediss://10.0.0.5:6380'";
    const { code: out, distinct } = pointAtNodes(code, ['redis://127.0.0.1:1', 'redis://127.0.0.1:2']);
    expect(distinct).toBe(2);
    expect(out).toBe("new Redlock(['redis://127.0.0.1:1', 'redis://127.0.0.1:2']); new Redis('redis://127.0.0.1:1'); 'rediss://10.0.0.5:6380'");
  });

  it('refuses more distinct URLs than there are nodes', () => {
    expect(() => pointAtNodes("'redis://a:1' 'redis://b:1'", ['redis://127.0.0.1:1'])).toThrow('more than 1 distinct');
  });
});
