import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { repoRoot } from './run-info.js';

/*
 * A tiny request/reply protocol over Node's IPC channel between the orchestrator and its three
 * children (baseline server, Flotilla server, load generator). Every request carries an id; the
 * child answers with the same id. Children can also send notices (the load generator's
 * measure-start / measure-end), which the orchestrator uses to read the servers' CPU time.
 */

interface RequestMessage {
  id: number;
  type: string;
  payload: unknown;
}
interface ReplyMessage {
  id: number;
  ok: boolean;
  result?: unknown;
  error?: string;
}
interface NoticeMessage {
  notice: string;
  data: unknown;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;
const isRequest = (v: unknown): v is RequestMessage =>
  isObject(v) && typeof v.id === 'number' && typeof v.type === 'string';
const isReply = (v: unknown): v is ReplyMessage =>
  isObject(v) && typeof v.id === 'number' && typeof v.ok === 'boolean';
const isNotice = (v: unknown): v is NoticeMessage => isObject(v) && typeof v.notice === 'string';

export type Handler = (payload: unknown) => unknown;

/** The hard deadline a child was started with (`--deadline-ms=N`). */
export function deadlineFromArgv(fallbackMs: number): number {
  const arg = process.argv.find((a) => a.startsWith('--deadline-ms='));
  const ms = arg ? Number(arg.slice('--deadline-ms='.length)) : NaN;
  return Number.isFinite(ms) && ms > 0 ? ms : fallbackMs;
}

/**
 * Child side: answers the orchestrator's requests with `handlers`. The child exits by itself when
 * its hard deadline passes or when the orchestrator goes away (IPC channel closed).
 */
export function serveParent(name: string, handlers: Record<string, Handler>, onExit?: () => void): void {
  if (!process.send) throw new Error(`${name} must be started by bench/flotilla-bench.ts (no IPC channel)`);
  const deadlineMs = deadlineFromArgv(5 * 60_000);
  const exit = (code: number) => {
    try {
      onExit?.();
    } finally {
      process.exit(code);
    }
  };
  setTimeout(() => {
    console.error(`${name}: hard deadline of ${deadlineMs} ms reached, exiting`);
    exit(3);
  }, deadlineMs).unref();
  process.on('disconnect', () => exit(0));
  process.on('message', (msg: unknown) => {
    if (!isRequest(msg)) return;
    const handler = handlers[msg.type];
    // After replying to `stop`, the child exits (once the reply is on its way).
    const reply = (r: ReplyMessage) => {
      const after = msg.type === 'stop' ? () => exit(0) : undefined;
      if (process.connected) process.send?.(r, undefined, {}, after);
      else after?.();
    };
    if (!handler) {
      reply({ id: msg.id, ok: false, error: `${name}: unknown request ${msg.type}` });
      return;
    }
    Promise.resolve()
      .then(() => handler(msg.payload))
      .then(
        (result) => reply({ id: msg.id, ok: true, result }),
        (error: unknown) =>
          reply({
            id: msg.id,
            ok: false,
            error: error instanceof Error ? (error.stack ?? error.message) : String(error),
          }),
      );
  });
}

/** Child side: a notice to the orchestrator (fire and forget). */
export function notifyParent(notice: string, data: unknown): void {
  if (process.connected) process.send?.({ notice, data } satisfies NoticeMessage);
}

/** Orchestrator side: one forked child, its requests and notices. */
export class Child {
  readonly process: ChildProcess;
  private nextId = 1;
  private readonly pending = new Map<
    number,
    { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }
  >();
  private readonly noticeListeners: ((notice: string, data: unknown) => void)[] = [];
  readonly exited: Promise<number | null>;

  constructor(
    readonly name: string,
    modulePath: string,
    options: { cwd: string; deadlineMs: number; args?: string[]; nodeOptions?: string[] },
  ) {
    this.process = fork(modulePath, [...(options.args ?? []), `--deadline-ms=${options.deadlineMs}`], {
      cwd: options.cwd,
      execArgv: [...(options.nodeOptions ?? []), '--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.exited = new Promise((resolve) => {
      this.process.once('exit', (code, signal) => {
        const reason = new Error(`${name} exited (code ${code}, signal ${signal})`);
        for (const p of this.pending.values()) {
          clearTimeout(p.timer);
          p.reject(reason);
        }
        this.pending.clear();
        resolve(code);
      });
    });
    this.process.on('error', (e) => console.error(`${name}: ${e.message}`));
    this.process.on('message', (msg: unknown) => {
      if (isNotice(msg)) {
        for (const l of this.noticeListeners) l(msg.notice, msg.data);
        return;
      }
      if (!isReply(msg)) return;
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      clearTimeout(p.timer);
      if (msg.ok) p.resolve(msg.result);
      else p.reject(new Error(`${name}: ${msg.error ?? 'failed'}`));
    });
  }

  /** Sends a request and waits (bounded) for its reply. */
  call<T>(type: string, payload: unknown, timeoutMs: number): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.name}: no reply to ${type} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve: (v) => resolve(v as T), reject, timer });
      if (!this.process.connected) {
        clearTimeout(timer);
        this.pending.delete(id);
        reject(new Error(`${this.name} is not running`));
        return;
      }
      this.process.send({ id, type, payload } satisfies RequestMessage);
    });
  }

  onNotice(listener: (notice: string, data: unknown) => void): void {
    this.noticeListeners.push(listener);
  }

  /** Asks the child to stop, then kills it if it has not exited within `graceMs`. */
  async stop(graceMs: number): Promise<void> {
    if (this.process.exitCode !== null || this.process.signalCode !== null) return;
    await this.call('stop', undefined, graceMs).catch(() => undefined);
    const timer = setTimeout(() => this.kill(), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** SIGKILL by PID, if still running. */
  kill(): void {
    if (this.process.exitCode === null && this.process.signalCode === null) this.process.kill('SIGKILL');
  }
}

const libDir = path.dirname(fileURLToPath(import.meta.url));

/**
 * Orchestrator side: the frame of one run. A watchdog ends this process (exit 1) once
 * `watchdogMs` have passed. `spawn` forks a child from bench/lib/ with a hard deadline of
 * `childDeadlineMs`; `tempDir` makes a temporary directory in the system temp directory. When
 * this process exits, every child still running is killed by PID and the temporary directories
 * are removed. SIGINT and SIGTERM exit with 130.
 */
export function startRun(options: { name: string; watchdogMs: number; childDeadlineMs: number }): {
  spawn: (name: string, file: string, nodeOptions?: string[]) => Child;
  tempDir: (prefix: string) => string;
} {
  const watchdog = setTimeout(() => {
    console.error(
      `${options.name}: watchdog: still running after ${Math.round(options.watchdogMs / 1000)} s, giving up`,
    );
    process.exit(1);
  }, options.watchdogMs);
  watchdog.unref();

  const children: Child[] = [];
  const tempDirs: string[] = [];
  process.on('exit', () => {
    for (const c of children) c.kill();
    for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(130));
  return {
    spawn: (name, file, nodeOptions) => {
      const child = new Child(name, path.join(libDir, file), {
        cwd: repoRoot,
        deadlineMs: options.childDeadlineMs,
        nodeOptions,
      });
      children.push(child);
      return child;
    },
    tempDir: (prefix) => {
      const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
      tempDirs.push(dir);
      return dir;
    },
  };
}

/** Orchestrator side: runs `main` and exits with its code (1, with the stack, if it throws). */
export function runMain(name: string, main: () => Promise<number>): void {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(`${name}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      process.exit(1);
    },
  );
}
