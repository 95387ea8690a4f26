import 'reflect-metadata';
import { describe, expect, it } from '@jest/globals';
import { Controller, Get, HttpException } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import request from 'supertest';

/**
 * Which NestJS this run loads. `npm test` runs against the root install; the NestJS 11 leg
 * (jest.nest11.config.js) sets the global NEST_INSTALL to '.ci/nest11' and maps every '@nestjs/...'
 * import there. Each leg must load the major version its install pins, or it would silently test the
 * same NestJS twice.
 */
const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const install = (globalThis as { NEST_INSTALL?: string }).NEST_INSTALL ?? '.';
const pinned = JSON.parse(readFileSync(`${repoRoot}${install}/package.json`, 'utf8')) as {
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
};
const pins = { ...pinned.devDependencies, ...pinned.dependencies };
const expectedMajor = Number(/\d+/.exec(pins['@nestjs/core'] ?? '')?.[0]);

/** The packages that follow NestJS's own version numbers (@nestjs/schedule and @nestjs/swagger do not). */
const framework = ['common', 'core', 'testing', 'platform-express', 'platform-fastify', 'platform-ws', 'microservices', 'websockets'];

/** Packages with their own version line: each install pins the line for its NestJS. */
const companions = ['schedule', 'swagger'];

/**
 * The version of the package that `import '@nestjs/<name>'` loads: resolved as the tests' and the
 * library's imports are (jest's import.meta.resolve applies the run's moduleNameMapper), then the
 * package.json above that file. Not `import '@nestjs/<name>/package.json'`: several NestJS 12
 * packages do not export it.
 */
function loaded(name: string): string {
  return JSON.parse(readFileSync(join(packageDir(`@nestjs/${name}`), 'package.json'), 'utf8')).version;
}

/** The folder of the package that `import specifier` from `parent` (default: this file) loads. */
function packageDir(specifier: string, parent: string = import.meta.url): string {
  let dir = dirname(fileURLToPath(import.meta.resolve(specifier, parent)));
  for (;;) {
    const file = join(dir, 'package.json');
    if (existsSync(file) && (JSON.parse(readFileSync(file, 'utf8')) as { name?: string }).name === specifier) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json of ${specifier} above ${dir}`);
    dir = dirname(dir);
  }
}

/** An exact pin must be what loaded; a range (if an install ever uses one) is left to the major check. */
function expectPinned(name: string, version: string): void {
  const pin = pins[`@nestjs/${name}`];
  expect(pin).toBeDefined();
  if (/^\d+\.\d+\.\d+$/.test(pin ?? '')) expect(version).toBe(pin);
}

@Controller()
class TeapotController {
  @Get('teapot')
  teapot(): never {
    throw new HttpException('short and stout', 418);
  }
}

describe(`NestJS under test (install: ${install})`, () => {
  it('the install pins a NestJS major version', () => {
    expect(Number.isInteger(expectedMajor)).toBe(true);
    if (install !== '.') expect(expectedMajor).toBe(11);
  });

  it.each(framework)(`@nestjs/%s is the version the install pins`, (name) => {
    const version = loaded(name);
    // Report what ran, so a leg's log names its NestJS.
    if (name === 'core') process.stdout.write(`NestJS under test: @nestjs/core ${version} (install: ${install})\n`);
    expect(Number(version.split('.')[0])).toBe(expectedMajor);
    expectPinned(name, version);
  });

  it.each(companions)('@nestjs/%s is the one the install pins', (name) => {
    expectPinned(name, loaded(name));
  });

  it.each(['rxjs', 'reflect-metadata'])('NestJS and the tests load the same %s install', (name) => {
    const nestCore = import.meta.resolve('@nestjs/core');
    expect(packageDir(name, nestCore)).toBe(packageDir(name));
  });

  it("NestJS's own packages share the tests' @nestjs/common (an HttpException keeps its status)", async () => {
    const ref = await Test.createTestingModule({ controllers: [TeapotController] }).compile();
    const app = ref.createNestApplication({ logger: false });
    await app.init();
    try {
      const res = await request(app.getHttpServer()).get('/teapot').expect(418);
      expect(res.body).toEqual({ statusCode: 418, message: 'short and stout' });
    } finally {
      await app.close();
    }
  });
});
