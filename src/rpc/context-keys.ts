import { createContextKey } from '@connectrpc/connect';

/**
 * Why a handler gives up on its call: `resource-exhausted` resets an HTTP/2 stream with
 * ENHANCE_YOUR_CALM (gRPC clients report RESOURCE_EXHAUSTED), `cancelled` with CANCEL.
 */
export type AbandonReason = 'resource-exhausted' | 'cancelled';

/**
 * What a handler can ask of its call's transport beyond what the RPC framework offers (the
 * framework waits for the client before writing anything more, trailers included).
 */
export interface CallTransport {
  /**
   * The handler has ended its call, but the client may be reading nothing, so the status may
   * never get through: unless the response is complete within the stalled-stream grace, the
   * HTTP/2 stream is reset (see AbandonReason) or the HTTP/1.1 connection closed.
   */
  abandon(reason: AbandonReason): void;
}

/**
 * The call's CallTransport in a handler context, set by the server from the listener's
 * `callTransportOf` (src/server/listener.ts implements it).
 */
export const callTransportKey = createContextKey<CallTransport | undefined>(undefined, {
  description: 'call transport',
});
