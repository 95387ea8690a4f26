import type { ArgumentsHost } from '@nestjs/common';

/**
 * What a handler's call looks like on each Nest transport, read in this one place. Nest hands
 * interceptors and filters the raw arguments of the transport (before pipes run):
 * HTTP `[request, response, next]`, RPC `[data, context]`, WebSocket `[client, data]`,
 * GraphQL `[root, args, context, info]`.
 */
export type Transport =
  | { readonly kind: 'http'; readonly request: Record<string, unknown> | undefined; readonly response: unknown }
  | { readonly kind: 'rpc'; readonly data: unknown }
  | { readonly kind: 'ws'; readonly client: unknown; readonly data: unknown }
  | { readonly kind: 'graphql'; readonly args: unknown }
  | { readonly kind: 'other'; readonly type: string };

export function transportOf(type: string, args: readonly unknown[]): Transport {
  switch (type) {
    case 'http':
      return { kind: 'http', request: args[0] as Record<string, unknown> | undefined, response: args[1] };
    case 'rpc':
      return { kind: 'rpc', data: args[0] };
    case 'ws':
      return { kind: 'ws', client: args[0], data: args[1] };
    case 'graphql':
      return { kind: 'graphql', args: args[1] };
    default:
      return { kind: 'other', type };
  }
}

/** The transport of an interceptor's ExecutionContext or a filter's ArgumentsHost. */
export function transportOfHost(host: ArgumentsHost): Transport {
  return transportOf(host.getType<string>(), host.getArgs());
}
