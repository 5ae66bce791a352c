import type { ServiceImpl } from '@connectrpc/connect';
import type { commonApi } from '@viamrobotics/sdk';
import type { LogEntry } from '../domain/models.js';
import type { PartLogService } from '../services/part-log-service.js';
import { callerOf } from './call-context.js';
import type { AppService } from './service-descriptors.generated.js';
import { microsOf, structFromObject, structToObject, timestampFromMicros } from './wire-values.js';

type WireLogEntry = commonApi.LogEntry;

/** A pushed `common.v1.LogEntry` as the domain's; an entry without a time is stamped now. */
export function logEntryFromWire(l: WireLogEntry): LogEntry {
  return {
    host: l.host,
    level: l.level,
    timeUs: l.time ? microsOf(l.time) : Date.now() * 1000,
    loggerName: l.loggerName,
    message: l.message,
    caller: l.caller ? structToObject(l.caller) : undefined,
    stack: l.stack,
    fields: l.fields.map((f) => structToObject(f)),
  };
}

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
        startUs: req.start ? microsOf(req.start) : undefined,
        endUs: req.end ? microsOf(req.end) : undefined,
        limit: req.limit === undefined ? undefined : Number(req.limit),
      });
      return { logs: page.entries.map(logEntryToWire), nextPageToken: page.nextPageToken };
    },
    async *tailRobotPartLogs(req, ctx) {
      const batches = partLogs.tail(
        callerOf(ctx),
        { partId: req.id, errorsOnly: req.errorsOnly, filter: req.filter },
        ctx.signal,
      );
      for await (const batch of batches) yield { logs: batch.map(logEntryToWire) };
    },
  };
}
