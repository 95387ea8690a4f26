import { join } from 'node:path';
import ts from 'typescript';
import type { MarkdownBlock } from './readme-blocks.js';

export interface ExampleFile {
  /** Where the block was written, beside the helper modules it may import. */
  readonly path: string;
  readonly block: MarkdownBlock;
}

export interface TypeCheckResult {
  /** `README.md:62: TS2304 Cannot find name 'x'.`, README line numbers. */
  readonly problems: string[];
  /** The module specifiers each example imports, by path. */
  readonly imports: ReadonlyMap<string, string[]>;
}

/**
 * Type-checks every example in ONE program with the compiler options of tsconfig.json (strict,
 * decorators with metadata, NodeNext), the package's entry points mapped to lib/ by `paths`.
 * Also reports an import nothing uses: a snippet must not make a reader install a package for
 * nothing. Diagnostics of lib/ itself are left to `npm run typecheck`.
 */
export function typeCheckExamples(root: string, files: readonly ExampleFile[], entries: Readonly<Record<string, string>>): TypeCheckResult {
  const configPath = join(root, 'tsconfig.json');
  const { config, error } = ts.readConfigFile(configPath, ts.sys.readFile);
  if (error) throw new Error(ts.flattenDiagnosticMessageText(error.messageText, '\n'));
  const { options } = ts.parseJsonConfigFileContent(config, ts.sys, root, undefined, configPath);
  const program = ts.createProgram({
    rootNames: files.map((f) => f.path),
    options: {
      ...options,
      noEmit: true,
      declaration: false,
      sourceMap: false,
      noUnusedLocals: true,
      moduleDetection: ts.ModuleDetectionKind.Force,
      paths: Object.fromEntries(Object.entries(entries).map(([name, file]) => [name, [file]])),
    },
  });

  const problems = [...program.getOptionsDiagnostics(), ...program.getGlobalDiagnostics()].map((d) => `tsconfig: TS${d.code} ${message(d)}`);
  const imports = new Map<string, string[]>();
  for (const file of files) {
    const sourceFile = program.getSourceFile(file.path);
    if (!sourceFile) throw new Error(`${file.path} is not in the program`);
    const importRanges = sourceFile.statements.filter(ts.isImportDeclaration);
    imports.set(file.path, importRanges.map((d) => (d.moduleSpecifier as ts.StringLiteral).text));
    const diagnostics = [...program.getSyntacticDiagnostics(sourceFile), ...program.getSemanticDiagnostics(sourceFile)];
    for (const d of diagnostics) {
      const start = d.start ?? 0;
      // noUnusedLocals is on for imports only: an unused `const receipt = ...` is a readable example.
      if (d.reportsUnnecessary && !importRanges.some((i) => start >= i.getStart(sourceFile) && start < i.getEnd())) continue;
      const { line } = sourceFile.getLineAndCharacterOfPosition(start);
      problems.push(`${file.block.source}:${file.block.line + line}: TS${d.code} ${message(d)}`);
    }
  }
  return { problems, imports };
}

function message(d: ts.Diagnostic): string {
  return ts.flattenDiagnosticMessageText(d.messageText, '\n  ');
}
