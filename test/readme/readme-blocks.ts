import { readFileSync } from 'node:fs';

/**
 * A fenced code block of a markdown file, with what the HTML comment right above it says about
 * it. Markers (one comment, flags separated by commas):
 *
 *   <!-- example: fragment -->           not a complete module: not checked (keep these rare)
 *   <!-- example: runs -->               also run against real redis-server nodes
 *   <!-- example: needs @nestjs/config --> imports a package that is not a (peer) dependency
 */
export interface MarkdownBlock {
  /** The markdown file, relative to the repository root. */
  readonly source: string;
  /** 1-based line of the block's first code line in `source`. */
  readonly line: number;
  readonly lang: string;
  readonly code: string;
  readonly fragment: boolean;
  readonly runs: boolean;
  readonly needs: readonly string[];
  /** The markdown between the previous block (or the file's start) and this one. */
  readonly prose: string;
}

const FENCE = /^```\s*([\w-]*)\s*$/;
const MARKER = /^<!--\s*example:\s*(.*?)\s*-->$/;

export function readMarkdownBlocks(path: string, source: string): MarkdownBlock[] {
  return parseMarkdownBlocks(readFileSync(path, 'utf8'), source);
}

export function parseMarkdownBlocks(markdown: string, source: string): MarkdownBlock[] {
  const lines = markdown.split('\n');
  const blocks: MarkdownBlock[] = [];
  let proseStart = 0;
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i]);
    if (!open) continue;
    const close = lines.findIndex((text, j) => j > i && /^```\s*$/.test(text));
    if (close < 0) throw new Error(`${source}:${i + 1}: code block never closed`);
    const flags = markerAbove(lines, i, source);
    blocks.push({
      source,
      line: i + 2,
      lang: open[1],
      code: lines.slice(i + 1, close).join('\n') + '\n',
      fragment: flags.includes('fragment'),
      runs: flags.includes('runs'),
      needs: flags.filter((f) => f.startsWith('needs ')).flatMap((f) => f.slice('needs '.length).trim().split(/\s+/)),
      prose: lines.slice(proseStart, i).join('\n'),
    });
    proseStart = close + 1;
    i = close;
  }
  return blocks;
}

/** The flags of the `<!-- example: ... -->` comment on the last non-blank line above a fence. */
function markerAbove(lines: readonly string[], fence: number, source: string): string[] {
  let above = fence - 1;
  while (above >= 0 && lines[above].trim() === '') above--;
  const marker = above >= 0 ? MARKER.exec(lines[above].trim()) : null;
  if (!marker) return [];
  const flags = marker[1].split(',').map((f) => f.trim()).filter(Boolean);
  for (const flag of flags) {
    if (flag !== 'fragment' && flag !== 'runs' && !/^needs \S/.test(flag)) {
      throw new Error(`${source}:${above + 1}: unknown example flag "${flag}" (fragment, runs, needs <package>)`);
    }
  }
  if (flags.includes('fragment') && flags.includes('runs')) {
    throw new Error(`${source}:${above + 1}: a fragment cannot run`);
  }
  return flags;
}

/** The package a bare import specifier names: `@scope/name/sub` -> `@scope/name`, `x/y` -> `x`. */
export function packageOf(specifier: string): string | undefined {
  if (specifier.startsWith('.') || specifier.startsWith('/') || specifier.startsWith('node:')) return undefined;
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}
