import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Body, Controller, Get, Param, ParseIntPipe, Post, Query } from '@nestjs/common';
import type { INestApplication } from '@nestjs/common';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import {
  ApiBody,
  ApiExcludeEndpoint,
  ApiOperation,
  ApiParam,
  ApiProperty,
  ApiQuery,
  ApiResponse,
  ApiTags,
  DocumentBuilder,
  SwaggerModule,
} from '@nestjs/swagger';
import type { OpenAPIObject } from '@nestjs/swagger';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { Locked, RedlockModule, RedlockService } from '../../lib/index.js';
import { startRedisNodes, type RedisNodes } from '../support/redis-nodes.js';

/**
 * The promise: "Route metadata, guards, pipes, Swagger metadata and the method's name are
 * preserved whatever the decorator order". Three controllers carry the very same routes and
 * Swagger decorators as an unlocked control controller, with @Locked written above all of them,
 * below all of them, or in between (some Swagger decorators of one route on each side, so that
 * @ApiResponse and @ApiParam must merge what the original and the wrapper each received). The
 * OpenAPI document must describe each locked route exactly as it describes the control route.
 */

class PayDto {
  @ApiProperty({ description: 'Amount in cents', example: 1250 })
  amount!: number;
}

const LOCK = { wait: 0 } as const;

@ApiTags('orders')
@Controller('control')
class ControlController {
  @Post(':id/pay')
  @ApiOperation({ summary: 'Pay an order' })
  @ApiParam({ name: 'id', description: 'Order number', type: Number })
  @ApiBody({ type: PayDto })
  @ApiResponse({ status: 201, description: 'Paid' })
  @ApiResponse({ status: 409, description: 'The order is being paid by another request' })
  pay(@Param('id', ParseIntPipe) id: number, @Body() body: PayDto) {
    return { route: 'control.pay', id, type: typeof id, amount: body.amount };
  }

  @Get(':id')
  @ApiOperation({ summary: 'Read an order' })
  @ApiParam({ name: 'id', description: 'Order number', type: Number })
  @ApiQuery({ name: 'verbose', required: false, type: Boolean })
  @ApiResponse({ status: 200, description: 'The order' })
  @ApiResponse({ status: 409, description: 'The order is locked' })
  get(@Param('id', ParseIntPipe) id: number, @Query('verbose') verbose?: string) {
    return { route: 'control.get', id, type: typeof id, verbose };
  }

  @Get(':id/hidden')
  @ApiExcludeEndpoint()
  hidden(@Param('id') id: string) {
    return { route: 'control.hidden', id };
  }
}

/** @Locked above everything: the route and every Swagger decorator were put on the original. */
@ApiTags('orders')
@Controller('above')
class AboveController {
  @Locked('order:<id>', LOCK)
  @Post(':id/pay')
  @ApiOperation({ summary: 'Pay an order' })
  @ApiParam({ name: 'id', description: 'Order number', type: Number })
  @ApiBody({ type: PayDto })
  @ApiResponse({ status: 201, description: 'Paid' })
  @ApiResponse({ status: 409, description: 'The order is being paid by another request' })
  pay(@Param('id', ParseIntPipe) id: number, @Body() body: PayDto) {
    return { route: 'above.pay', id, type: typeof id, amount: body.amount };
  }

  @Locked('order:<id>', LOCK)
  @Get(':id')
  @ApiOperation({ summary: 'Read an order' })
  @ApiParam({ name: 'id', description: 'Order number', type: Number })
  @ApiQuery({ name: 'verbose', required: false, type: Boolean })
  @ApiResponse({ status: 200, description: 'The order' })
  @ApiResponse({ status: 409, description: 'The order is locked' })
  get(@Param('id', ParseIntPipe) id: number, @Query('verbose') verbose?: string) {
    return { route: 'above.get', id, type: typeof id, verbose };
  }

  @Locked('order:<id>', LOCK)
  @Get(':id/hidden')
  @ApiExcludeEndpoint()
  hidden(@Param('id') id: string) {
    return { route: 'above.hidden', id };
  }
}

/** @Locked below everything: the route and every Swagger decorator land on the wrapper. */
@ApiTags('orders')
@Controller('below')
class BelowController {
  @Post(':id/pay')
  @ApiOperation({ summary: 'Pay an order' })
  @ApiParam({ name: 'id', description: 'Order number', type: Number })
  @ApiBody({ type: PayDto })
  @ApiResponse({ status: 201, description: 'Paid' })
  @ApiResponse({ status: 409, description: 'The order is being paid by another request' })
  @Locked('order:<id>', LOCK)
  pay(@Param('id', ParseIntPipe) id: number, @Body() body: PayDto) {
    return { route: 'below.pay', id, type: typeof id, amount: body.amount };
  }

  @Get(':id')
  @ApiOperation({ summary: 'Read an order' })
  @ApiParam({ name: 'id', description: 'Order number', type: Number })
  @ApiQuery({ name: 'verbose', required: false, type: Boolean })
  @ApiResponse({ status: 200, description: 'The order' })
  @ApiResponse({ status: 409, description: 'The order is locked' })
  @Locked('order:<id>', LOCK)
  get(@Param('id', ParseIntPipe) id: number, @Query('verbose') verbose?: string) {
    return { route: 'below.get', id, type: typeof id, verbose };
  }

  @Get(':id/hidden')
  @ApiExcludeEndpoint()
  @Locked('order:<id>', LOCK)
  hidden(@Param('id') id: string) {
    return { route: 'below.hidden', id };
  }
}

/**
 * @Locked in between: part of the metadata is on the original, part on the wrapper, and the two
 * @ApiResponse (and the @ApiParam / @ApiQuery) on either side must add up, not replace each other.
 */
@ApiTags('orders')
@Controller('between')
class BetweenController {
  @ApiOperation({ summary: 'Pay an order' })
  @ApiResponse({ status: 409, description: 'The order is being paid by another request' })
  @Locked('order:<id>', LOCK)
  @Post(':id/pay')
  @ApiParam({ name: 'id', description: 'Order number', type: Number })
  @ApiBody({ type: PayDto })
  @ApiResponse({ status: 201, description: 'Paid' })
  pay(@Param('id', ParseIntPipe) id: number, @Body() body: PayDto) {
    return { route: 'between.pay', id, type: typeof id, amount: body.amount };
  }

  @Get(':id')
  @ApiQuery({ name: 'verbose', required: false, type: Boolean })
  @ApiResponse({ status: 409, description: 'The order is locked' })
  @Locked('order:<id>', LOCK)
  @ApiOperation({ summary: 'Read an order' })
  @ApiParam({ name: 'id', description: 'Order number', type: Number })
  @ApiResponse({ status: 200, description: 'The order' })
  get(@Param('id', ParseIntPipe) id: number, @Query('verbose') verbose?: string) {
    return { route: 'between.get', id, type: typeof id, verbose };
  }

  @Get(':id/hidden')
  @Locked('order:<id>', LOCK)
  @ApiExcludeEndpoint()
  hidden(@Param('id') id: string) {
    return { route: 'between.hidden', id };
  }
}

const lockedControllers: Array<[prefix: string, controller: abstract new (...args: never[]) => object]> = [
  ['above', AboveController],
  ['below', BelowController],
  ['between', BetweenController],
];

type Kind = 'express' | 'fastify';

let cluster: RedisNodes;

beforeAll(async () => {
  cluster = await startRedisNodes(3);
});
afterAll(async () => {
  await cluster?.stop();
});

describe.each<Kind>(['express', 'fastify'])('@Locked and @nestjs/swagger (%s)', (kind) => {
  let app: INestApplication;
  let url: string;
  let document: OpenAPIObject;

  beforeAll(async () => {
    const ref = await Test.createTestingModule({
      imports: [RedlockModule.forRoot({ nodes: cluster.urls() })],
      controllers: [ControlController, AboveController, BelowController, BetweenController],
    }).compile();
    app =
      kind === 'express'
        ? ref.createNestApplication(new ExpressAdapter(), { logger: false })
        : ref.createNestApplication<NestFastifyApplication>(new FastifyAdapter(), { logger: false });
    // The operationId is the method's own name (not Controller_method), so that the same route in
    // two controllers has one and the same description. @nestjs/swagger reads it from the function's
    // `name`: a wrapper that did not keep it would be described as operation 'wrapper'.
    document = SwaggerModule.createDocument(app, new DocumentBuilder().build(), {
      operationIdFactory: (_controller: string, method: string) => method,
    });
    await app.listen(0, '127.0.0.1');
    url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  });
  afterAll(async () => {
    await app?.close();
  });

  it('the document lists every route of every order, and none of the excluded ones', () => {
    expect(Object.keys(document.paths).sort()).toEqual(
      ['above', 'below', 'between', 'control'].flatMap((c) => [`/${c}/{id}`, `/${c}/{id}/pay`]).sort(),
    );
    for (const [prefix] of [['control'], ...lockedControllers]) {
      expect(Object.keys(document.paths[`/${prefix}/{id}/pay`]!)).toEqual(['post']);
      expect(Object.keys(document.paths[`/${prefix}/{id}`]!)).toEqual(['get']);
    }
  });

  it('the control routes carry the summary, params, body, responses and tags they were given', () => {
    const pay = document.paths['/control/{id}/pay']!.post!;
    expect(pay).toMatchObject({
      operationId: 'pay',
      summary: 'Pay an order',
      tags: ['orders'],
      requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/PayDto' } } } },
      responses: { '201': { description: 'Paid' }, '409': { description: 'The order is being paid by another request' } },
    });
    expect(pay.parameters).toEqual([expect.objectContaining({ name: 'id', in: 'path', required: true, description: 'Order number' })]);
    expect(Object.keys(pay.responses).sort()).toEqual(['201', '409']);

    const get = document.paths['/control/{id}']!.get!;
    expect(get).toMatchObject({
      operationId: 'get',
      summary: 'Read an order',
      tags: ['orders'],
      responses: { '200': { description: 'The order' }, '409': { description: 'The order is locked' } },
    });
    expect(Object.keys(get.responses).sort()).toEqual(['200', '409']);
    const params = (get.parameters ?? []) as Array<{ name: string; in: string; required?: boolean }>;
    expect(params.map((p) => `${p.in}:${p.name}:${p.required}`).sort()).toEqual(['path:id:true', 'query:verbose:false']);
    expect(document.components?.schemas?.PayDto).toMatchObject({
      type: 'object',
      properties: { amount: { type: 'number', description: 'Amount in cents', example: 1250 } },
    });
  });

  it.each(lockedControllers)('@Locked %s the other decorators: each route is described exactly as the control one', (prefix) => {
    expect(document.paths[`/${prefix}/{id}/pay`]).toEqual(document.paths['/control/{id}/pay']);
    expect(document.paths[`/${prefix}/{id}`]).toEqual(document.paths['/control/{id}']);
  });

  it.each(lockedControllers)('@Locked %s the other decorators: the methods keep their names', (_prefix, controller) => {
    const proto = controller.prototype as unknown as Record<string, (...args: unknown[]) => unknown>;
    for (const name of ['pay', 'get', 'hidden']) {
      expect(proto[name]!.name).toBe(name);
      expect(proto[name]!.length).toBe((ControlController.prototype as unknown as Record<string, () => unknown>)[name]!.length);
    }
  });

  it.each(lockedControllers)('@Locked %s the other decorators: every route is routed, piped and locked', async (prefix) => {
    const lock = await app.get(RedlockService).acquire('order:7');
    try {
      // Held elsewhere: the locked routes answer 409, the control ones (not locked) are served.
      expect((await request(url).post(`/${prefix}/7/pay`).send({ amount: 100 }).expect(409)).body.code).toBe('LOCK_BUSY');
      expect((await request(url).get(`/${prefix}/7`).expect(409)).body.code).toBe('LOCK_BUSY');
      expect((await request(url).get(`/${prefix}/7/hidden`).expect(409)).body.code).toBe('LOCK_BUSY');
      await request(url).post('/control/7/pay').send({ amount: 100 }).expect(201);
      await request(url).get('/control/7').expect(200);
    } finally {
      await lock.release();
    }
    const paid = await request(url).post(`/${prefix}/7/pay`).send({ amount: 100 }).expect(201);
    expect(paid.body).toEqual({ route: `${prefix}.pay`, id: 7, type: 'number', amount: 100 });
    const read = await request(url).get(`/${prefix}/7?verbose=yes`).expect(200);
    expect(read.body).toEqual({ route: `${prefix}.get`, id: 7, type: 'number', verbose: 'yes' });
    expect((await request(url).get(`/${prefix}/7/hidden`).expect(200)).body).toEqual({ route: `${prefix}.hidden`, id: '7' });
  });
});
