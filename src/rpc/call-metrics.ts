import { Code, ConnectError, type Interceptor } from '@connectrpc/connect';
import type { AnyMessage } from '@bufbuild/protobuf';

/** The gRPC status code of a call that succeeded (`Code` starts at CANCELLED). */
export const OK_CODE = 0;

/** What one RPC method's calls are counted and timed in. */
export interface MethodMetrics {
  /**
   * A call ended with `code` (0: OK) after `seconds`; for a server stream, `seconds` runs until
   * its first message (or its end, if it sent none).
   */
  ended(code: number, seconds: number): void;
}

/** Where calls are reported: one MethodMetrics per method, asked for once and kept. */
export interface CallMetrics {
  method(service: string, method: string): MethodMetrics;
}

const secondsSince = (start: number): number => (performance.now() - start) / 1000;

/** The code a call failing with `error` answers (what connect-node sends for it). */
const codeOf = (error: unknown): number =>
  error instanceof ConnectError ? error.code : ConnectError.from(error).code;

/** The code of a call whose signal aborted: the reason's (a deadline, say), else CANCELLED. */
const abortCodeOf = (signal: AbortSignal): number =>
  signal.reason instanceof ConnectError ? signal.reason.code : Code.Canceled;

/**
 * Counts and times every call the framework serves (gRPC, gRPC-web and Connect), outermost, so
 * it sees the code the client gets. A unary or client-streaming call ends when its handler
 * returns; a server stream when its last message is out, when it fails, or when its client
 * leaves (CANCELLED). Calls the framework refuses before any interceptor runs (an undecodable
 * envelope, a message over the size limit) are not seen.
 */
export function callMetricsInterceptor(metrics: CallMetrics): Interceptor {
  // Keyed by the method's descriptor, the same object for every call of the method.
  const known = new Map<object, MethodMetrics>();
  return (next) => async (req) => {
    let series = known.get(req.method);
    if (!series) {
      series = metrics.method(req.service.typeName, req.method.name);
      known.set(req.method, series);
    }
    const start = performance.now();
    let res;
    try {
      res = await next(req);
    } catch (error) {
      series.ended(codeOf(error), secondsSince(start));
      throw error;
    }
    if (!res.stream) {
      series.ended(OK_CODE, secondsSince(start));
      return res;
    }
    return { ...res, message: countedStream(res.message, series, start, req.signal) };
  };
}

async function* countedStream(
  messages: AsyncIterable<AnyMessage>,
  series: MethodMetrics,
  start: number,
  signal: AbortSignal,
): AsyncIterable<AnyMessage> {
  let firstAfter: number | undefined;
  let code = OK_CODE;
  try {
    for await (const message of messages) {
      firstAfter ??= secondsSince(start);
      yield message;
    }
  } catch (error) {
    code = codeOf(error);
    throw error;
  } finally {
    // Ended without an error, but because the client left (or its deadline passed).
    if (code === OK_CODE && signal.aborted) code = abortCodeOf(signal);
    series.ended(code, firstAfter ?? secondsSince(start));
  }
}
