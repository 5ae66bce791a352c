import type { Logger } from '../domain/logger.js';
import type { AlertService } from '../services/alert-service.js';

/** How often the dispatcher looks for due deliveries made elsewhere (other replicas, retries). */
export const DISPATCH_INTERVAL_MS = 1000;
/** How long shutdown waits for a round in flight (a send is cut short at once). */
const STOP_WAIT_MS = 5000;

/**
 * How often the online checker runs: a quarter of FLOTILLA_OFFLINE_AFTER, between 100 ms and 5 s,
 * so a part is reported offline at most that much (plus FLOTILLA_ACCESS_FLUSH_INTERVAL) late.
 */
export const checkIntervalFor = (offlineAfterMs: number): number =>
  Math.min(Math.max(Math.floor(offlineAfterMs / 4), 100), 5000);

/** A job run on a timer, one round at a time; `kick` runs a round as soon as the current one ends. */
class Loop {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;

  constructor(
    private readonly intervalMs: number,
    private readonly round: () => Promise<void>,
  ) {}

  start(): void {
    this.schedule(this.intervalMs);
  }

  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.running) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        this.running,
        new Promise((resolve) => (timer = setTimeout(resolve, STOP_WAIT_MS).unref())),
      ]);
      clearTimeout(timer);
    }
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.run(), delayMs).unref();
  }

  private run(): void {
    if (this.stopped || this.running) return;
    this.again = false;
    this.running = this.round().finally(() => {
      this.running = undefined;
      this.schedule(this.again ? 0 : this.intervalMs);
    });
  }
}

/** The running alert loops; `stop` ends them (sends in flight are cut short and retried later). */
export interface AlertLoops {
  stop(): Promise<void>;
}

/**
 * Starts the online checker (every `checkIntervalFor(offlineAfter)`, each round inside
 * `exclusive`: on PostgreSQL one replica at a time, through an advisory lock) and the dispatcher
 * (every second on every replica, and at once when this replica enqueues a delivery; claims
 * make each delivery go out once).
 */
export function startAlertLoops(
  alerts: AlertService,
  exclusive: (work: () => Promise<void>) => Promise<boolean>,
  logger: Logger,
): AlertLoops {
  const checker = new Loop(checkIntervalFor(alerts.offlineAfterMs), async () => {
    await exclusive(() => alerts.checkParts()).catch((error: unknown) =>
      logger.warn('checking parts for alerts failed; trying again', { error: String(error) }),
    );
  });
  const dispatcher = new Loop(DISPATCH_INTERVAL_MS, async () => {
    await alerts.dispatcher
      .dispatchDue()
      .then(() => undefined)
      .catch((error: unknown) =>
        logger.warn('sending alerts failed; trying again', { error: String(error) }),
      );
  });
  const unhook = alerts.onEnqueued(() => dispatcher.kick());
  checker.start();
  dispatcher.start();
  return {
    async stop() {
      unhook();
      alerts.dispatcher.stop();
      await Promise.all([checker.stop(), dispatcher.stop()]);
      await alerts.idle();
    },
  };
}
