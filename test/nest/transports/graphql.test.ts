import 'reflect-metadata';
// Some parameters exist only for the key templates and the schema that name them.
/* eslint-disable @typescript-eslint/no-unused-vars */
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { ApolloDriver } from '@nestjs/apollo';
import type { ApolloDriverConfig } from '@nestjs/apollo';
import { Args, GraphQLModule, Mutation, Query, Resolver } from '@nestjs/graphql';
import { Test } from '@nestjs/testing';
import type { Redis } from 'ioredis';
import request from 'supertest';
import { Locked, Redlock, RedlockModule, RedlockService } from '../../../lib/index.js';
import { LOCK_BUSY_MESSAGE, QUORUM_UNAVAILABLE_MESSAGE } from '../../../lib/errors/public-lock-error.js';
import { startRedisNodes, type RedisNodes } from '../../support/redis-nodes.js';
import { keysOn } from '../lock-keys.js';
import { findSectionOverlaps, payOnce, sleep, versions, type Section } from './support.js';

/*
 * @Locked on GraphQL resolvers, through the real Apollo driver on Express: HTTP POSTs to
 * /graphql, three real redis-server lock nodes. On this transport `<id>` is the resolver's
 * argument `id` (API.md section 3). Schema-first (typeDefs), so no ts-morph / code-first reflection.
 */

const typeDefs = /* GraphQL */ `
  type Payment {
    id: ID!
    balance: Int
    resources: [String!]
  }
  type Query {
    ping: String!
  }
  type Mutation {
    pay(id: ID!): Payment!
    payNow(id: ID!): Payment!
    paySkip(id: ID!): String
    decline(id: ID!): String
    declineUnlocked(id: ID!): String
  }
`;

let store: Redis;
const sections: Section[] = [];
let runs = 0;

class CardDeclinedError extends Error {
  readonly extensions = { code: 'CARD_DECLINED' };
}

@Resolver()
class PaymentsResolver {
  constructor(private readonly redlock: RedlockService) {}

  @Query()
  ping() {
    return 'pong';
  }

  /** Read, pause, write: without mutual exclusion concurrent requests lose updates. */
  @Mutation()
  @Locked('order:<id>', { wait: 20_000 })
  async pay(@Args('id') id: string) {
    const balance = await payOnce(store, id, sections);
    return { id, balance, resources: this.redlock.current()?.resources };
  }

  @Mutation()
  @Locked('order:<id>', { wait: 0 })
  payNow(@Args('id') id: string) {
    runs++;
    return { id, resources: this.redlock.current()?.resources };
  }

  @Mutation()
  @Locked('order:<id>', { wait: 0, onBusy: 'skip' })
  paySkip(@Args('id') id: string) {
    runs++;
    return 'ran';
  }

  // The same failure with and without @Locked: the client must not be able to tell them apart.
  @Mutation()
  @Locked('order:<id>', { wait: 0 })
  async decline(@Args('id') id: string): Promise<never> {
    throw new CardDeclinedError('card declined');
  }

  @Mutation()
  async declineUnlocked(@Args('id') id: string): Promise<never> {
    throw new CardDeclinedError('card declined');
  }
}

let cluster: RedisNodes;
let app: INestApplication;
let url: string;
/** Another process's view of the lock nodes: direct connections, nothing shared with the app. */
let other: Redlock;

beforeAll(async () => {
  cluster = await startRedisNodes(3);
  store = cluster.nodes[0]!.client();
  other = new Redlock(cluster.nodes.map((node) => node.client()), { wait: 0 });
  const ref = await Test.createTestingModule({
    imports: [
      RedlockModule.forRoot({ nodes: cluster.urls() }),
      GraphQLModule.forRoot<ApolloDriverConfig>({ driver: ApolloDriver, typeDefs, includeStacktraceInErrorResponses: false }),
    ],
    providers: [PaymentsResolver],
  }).compile();
  app = ref.createNestApplication({ logger: false });
  await app.listen(0, '127.0.0.1');
  url = (await app.getUrl()).replace(/^http:\/\/(\[::1\]|localhost)/, 'http://127.0.0.1');
});

afterAll(async () => {
  await app?.close();
  await other?.quit();
  await cluster?.stop();
});

interface GraphQLResponse {
  data?: Record<string, unknown> | null;
  errors?: { message: string; path?: string[]; extensions?: Record<string, unknown> }[];
}

async function mutate(field: string, id: string, selection = ''): Promise<GraphQLResponse> {
  const res = await request(url)
    .post('/graphql')
    .send({ query: `mutation($id: ID!) { ${field}(id: $id) ${selection} }`, variables: { id } })
    .expect(200);
  return res.body as GraphQLResponse;
}

describe(`@Locked on a GraphQL resolver (Apollo on Express, @nestjs/graphql ${versions('@nestjs/graphql').loaded})`, () => {
  it.each(['@nestjs/graphql', '@nestjs/apollo'])('runs on the %s its install pins', (name) => {
    const { loaded, pinned } = versions(name);
    expect(loaded).toBe(pinned);
  });

  it('serializes concurrent requests for one id: no lost update, no overlapping sections', async () => {
    const count = 12;
    const replies = await Promise.all(Array.from({ length: count }, () => mutate('pay', 's1', '{ balance resources }')));
    expect(replies.every((r) => r.errors === undefined)).toBe(true);
    expect(Number(await store.get('balance:s1'))).toBe(count);
    const balances = replies.map((r) => (r.data!.pay as { balance: number }).balance).sort((a, b) => a - b);
    expect(balances).toEqual(Array.from({ length: count }, (_, i) => i + 1));
    expect(replies.every((r) => (r.data!.pay as { resources: string[] }).resources[0] === 'order:s1')).toBe(true);
    const mine = sections.filter((s) => s.key === 's1');
    expect(mine).toHaveLength(count);
    expect(findSectionOverlaps(mine)).toEqual([]);
  });

  it('locks exactly `order:<id>` of the arguments: held elsewhere, that id is busy and another id is not', async () => {
    const held = await other.acquire('order:k1');
    try {
      runs = 0;
      expect((await mutate('payNow', 'k1', '{ id }')).errors).toHaveLength(1);
      expect(runs).toBe(0);
      expect(await mutate('payNow', 'k2', '{ id resources }')).toEqual({ data: { payNow: { id: 'k2', resources: ['order:k2'] } } });
      expect(runs).toBe(1);
    } finally {
      await held.release();
    }
    expect(await mutate('payNow', 'k1', '{ id resources }')).toEqual({ data: { payNow: { id: 'k1', resources: ['order:k1'] } } });
  });

  it("busy with onBusy 'throw': the client gets a GraphQL error with code LOCK_BUSY and a generic message", async () => {
    // RedlockExceptionFilter (put on the method by @Locked) hands GraphQL an error whose
    // `extensions` carry the code; the message names no resource.
    const held = await other.acquire('order:b1');
    try {
      expect(await mutate('payNow', 'b1', '{ id }')).toEqual({
        data: null,
        errors: [{ message: LOCK_BUSY_MESSAGE, locations: expect.any(Array), path: ['payNow'], extensions: { code: 'LOCK_BUSY' } }],
      });
    } finally {
      await held.release();
    }
  });

  it("busy with onBusy 'skip': the resolver does not run and the field is null", async () => {
    const held = await other.acquire('order:p1');
    try {
      runs = 0;
      expect(await mutate('paySkip', 'p1')).toEqual({ data: { paySkip: null } });
      expect(runs).toBe(0);
    } finally {
      await held.release();
    }
    expect(await mutate('paySkip', 'p1')).toEqual({ data: { paySkip: 'ran' } });
    expect(runs).toBe(1);
  });

  it("passes the resolver's own error through unchanged and releases the lock", async () => {
    const locked = await mutate('decline', 'e1');
    expect(locked).toEqual({
      data: { decline: null },
      errors: [{ message: 'card declined', locations: expect.any(Array), path: ['decline'], extensions: { code: 'CARD_DECLINED' } }],
    });
    const unlocked = await mutate('declineUnlocked', 'e1');
    expect(unlocked.errors![0]).toEqual({ ...locked.errors![0], path: ['declineUnlocked'] });
    expect((await keysOn(cluster, 'lock:order:e1')).flat()).toEqual([]);
  });

  it('releases the lock before the response: another client can take the key as soon as it arrives', async () => {
    // The app reaches the nodes through slowed proxies and `other` directly: a release still in
    // flight when the response left would show up as a busy key here.
    for (const node of cluster.nodes) node.proxy.setLatency(15);
    try {
      for (let i = 0; i < 8; i++) {
        expect((await mutate('payNow', 'r1', '{ id }')).errors).toBeUndefined();
        const lock = await other.tryAcquire('order:r1');
        expect(lock).not.toBeNull();
        await lock!.release();
      }
    } finally {
      for (const node of cluster.nodes) node.proxy.setLatency(0);
    }
  });

  it('two of three nodes down: code QUORUM_UNAVAILABLE, and no node address reaches the client', async () => {
    await Promise.all([cluster.nodes[1]!.kill(), cluster.nodes[2]!.kill()]);
    try {
      const response = await mutate('payNow', 'u1', '{ id }');
      expect(response).toEqual({
        data: null,
        errors: [{ message: QUORUM_UNAVAILABLE_MESSAGE, locations: expect.any(Array), path: ['payNow'], extensions: { code: 'QUORUM_UNAVAILABLE' } }],
      });
      expect(JSON.stringify(response)).not.toContain('127.0.0.1');
    } finally {
      await Promise.all([cluster.nodes[1]!.restart(), cluster.nodes[2]!.restart()]);
    }
  });
});
