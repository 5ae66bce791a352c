import type { PromiseClient, Transport } from '@connectrpc/connect';
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
  type ConnectTransportOptions,
  type GrpcTransportOptions,
  type GrpcWebTransportOptions,
} from '@connectrpc/connect-node';
import type { AppClient } from '@viamrobotics/sdk';
import type { AppService } from '../../src/rpc/service-descriptors.generated.js';

/** Call options (or fetch init) carrying `authorization: Bearer <token>`. */
export const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

/** Options of a transport over HTTP/2, besides the base URL (a session manager, node options, limits). */
type Http2Options<T> = Omit<Extract<T, { httpVersion: '2' }>, 'baseUrl' | 'httpVersion'>;
/** Options of a transport over HTTP/1.1, besides the base URL. */
type Http1Options<T> = Omit<Extract<T, { httpVersion: '1.1' }>, 'baseUrl' | 'httpVersion'>;

/** Native gRPC over cleartext HTTP/2 to the server at `url`. */
export const grpcTransport = (url: string, options: Http2Options<GrpcTransportOptions> = {}): Transport =>
  createGrpcTransport({ ...options, baseUrl: url, httpVersion: '2' });

/** The Connect protocol over HTTP/1.1 to the server at `url`. */
export const connectTransport = (
  url: string,
  options: Http1Options<ConnectTransportOptions> = {},
): Transport => createConnectTransport({ ...options, baseUrl: url, httpVersion: '1.1' });

/** gRPC-web over HTTP/1.1 to the server at `url`. */
export const grpcWebTransport = (
  url: string,
  options: Http1Options<GrpcWebTransportOptions> = {},
): Transport => createGrpcWebTransport({ ...options, baseUrl: url, httpVersion: '1.1' });

/** The SDK's generated AppService client inside an AppClient. */
export type RawAppClient = PromiseClient<typeof AppService>;

/**
 * The SDK's own generated AppService client inside `app` (a private field, untyped in its
 * .d.ts), for the methods AppClient does not wrap or whose replies it trims.
 */
export const rawAppClient = (app: AppClient): RawAppClient =>
  (app as unknown as { client: RawAppClient }).client;
