import type { BinaryWriteOptions, JsonWriteStringOptions } from '@bufbuild/protobuf';
import { Code, ConnectError, type ServiceImpl } from '@connectrpc/connect';
import { appApi } from '@viamrobotics/sdk';
import type { LogEntry } from '../domain/models.js';
import type { PartLogService } from '../services/part-log-service.js';
import { callerOf } from './call-context.js';
import { callTransportKey } from './context-keys.js';
import type { AppService } from './service-descriptors.generated.js';
import { microsOf, structFromObject, timestampFromMicros } from './wire-values.js';

const logEntryToWire = (l: LogEntry) => ({
  host: l.host,
  level: l.level,
  time: timestampFromMicros(l.timeUs),
  loggerName: l.loggerName,
  message: l.message,
  ...(l.caller ? { caller: structFromObject(l.caller) } : {}),
  stack: l.stack,
  fields: l.fields.map(structFromObject),
});

/** A tail message that encodes itself once, however many streams send it. */
class EncodedOnceTailResponse extends appApi.TailRobotPartLogsResponse {
  private binary: Uint8Array | undefined;
  private json: string | undefined;

  override toBinary(options?: Partial<BinaryWriteOptions>): Uint8Array {
    return (this.binary ??= super.toBinary(options));
  }

  override toJsonString(options?: Partial<JsonWriteStringOptions>): string {
    return (this.json ??= super.toJsonString(options));
  }
}

/** Tails receiving the same batch share its entries array (see PartLogService.tail): one message for all. */
const tailResponses = new WeakMap<readonly LogEntry[], EncodedOnceTailResponse>();
function tailResponseFor(batch: readonly LogEntry[]): EncodedOnceTailResponse {
  let response = tailResponses.get(batch);
  if (!response) {
    response = new EncodedOnceTailResponse({ logs: batch.map(logEntryToWire) });
    tailResponses.set(batch, response);
  }
  return response;
}

/** AppService's log reads: a page at a time, and live. */
export function logHandlers(partLogs: PartLogService): Partial<ServiceImpl<typeof AppService>> {
  return {
    async getRobotPartLogs(req, ctx) {
      const page = await partLogs.page(callerOf(ctx), {
        partId: req.id,
        filter: req.filter,
        levels: req.levels,
        errorsOnly: req.errorsOnly,
        pageToken: req.pageToken,
        startUs: req.start ? microsOf(req.start, 'start') : undefined,
        endUs: req.end ? microsOf(req.end, 'end') : undefined,
        limit: req.limit === undefined ? undefined : Number(req.limit),
      });
      return { logs: page.entries.map(logEntryToWire), nextPageToken: page.nextPageToken };
    },
    async *tailRobotPartLogs(req, ctx) {
      // A tail that fell behind, or whose deadline passed, ends with its status at the next pull.
      // A client that reads nothing never lets the stream pull again (flow control holds the
      // write), so the transport resets the stream unless it has ended within a grace period.
      const transport = ctx.values.get(callTransportKey);
      const isDeadline = () =>
        ctx.signal.reason instanceof ConnectError && ctx.signal.reason.code === Code.DeadlineExceeded;
      const onAbort = () => {
        if (isDeadline()) transport?.abandon('cancelled');
      };
      ctx.signal.addEventListener('abort', onAbort);
      try {
        const batches = partLogs.tail(
          callerOf(ctx),
          { partId: req.id, errorsOnly: req.errorsOnly, filter: req.filter },
          ctx.signal,
          () => transport?.abandon('resource-exhausted'),
        );
        for await (const batch of batches) yield tailResponseFor(batch);
      } finally {
        ctx.signal.removeEventListener('abort', onAbort);
      }
      // The tail ends quietly when its signal aborts; a deadline is the client's to hear about.
      if (ctx.signal.aborted && isDeadline()) throw ctx.signal.reason;
    },
  };
}
