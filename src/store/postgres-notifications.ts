import pg from 'pg';

/** Hears one channel's payloads. */
export type NotificationHandler = (payload: string) => void;

/** Hears the listening connection go down (`false`) and come back (`true`). */
export type ConnectionHandler = (connected: boolean) => void;

/** How long to wait before trying to listen again, growing up to the last value, in ms. */
const RECONNECT_DELAYS_MS = [250, 500, 1000, 2000];

/**
 * One replica's connection for PostgreSQL's LISTEN/NOTIFY, shared by everything that hears other
 * replicas (log tails, cache invalidation). Notifications are delivered in commit order while the
 * connection is up. While it is down nothing can be heard, so subscribers are told (`onConnection`)
 * and must stop trusting what they hold; it reconnects on its own and tells them again.
 */
export class PostgresNotifications {
  private readonly handlers = new Map<string, Set<NotificationHandler>>();
  private readonly connectionHandlers = new Set<ConnectionHandler>();
  private client: pg.Client | undefined;
  private failures = 0;
  private closed = false;

  private constructor(
    private readonly url: string,
    private readonly channels: readonly string[],
    private readonly onError: (message: string) => void,
  ) {}

  /** Connects and listens on `channels` before returning; fails if the database cannot be reached. */
  static async open(
    url: string,
    channels: readonly string[],
    onError: (message: string) => void,
  ): Promise<PostgresNotifications> {
    const notifications = new PostgresNotifications(url, channels, onError);
    await notifications.listen();
    return notifications;
  }

  /** True while notifications can be heard. */
  get connected(): boolean {
    return this.client !== undefined;
  }

  /** Calls `handler` with each payload sent on `channel` (one of those given to `open`). */
  on(channel: string, handler: NotificationHandler): () => void {
    if (!this.channels.includes(channel)) throw new Error(`not listening on ${channel}`);
    let set = this.handlers.get(channel);
    if (!set) this.handlers.set(channel, (set = new Set()));
    set.add(handler);
    return () => set.delete(handler);
  }

  /** Calls `handler` whenever the connection is lost or restored. */
  onConnection(handler: ConnectionHandler): () => void {
    this.connectionHandlers.add(handler);
    return () => this.connectionHandlers.delete(handler);
  }

  async close(): Promise<void> {
    this.closed = true;
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => {});
  }

  private async listen(): Promise<void> {
    const client = new pg.Client({ connectionString: this.url, keepAlive: true });
    client.on('notification', ({ channel, payload }) => {
      if (payload === undefined) return;
      for (const handler of this.handlers.get(channel) ?? []) handler(payload);
    });
    const lost = (reason: string) => {
      if (this.closed || this.client !== client) return;
      this.client = undefined;
      this.onError(`the notification connection to the database was lost (${reason}); reconnecting`);
      void client.end().catch(() => {});
      this.tell(false);
      this.reconnectLater();
    };
    client.on('error', (error) => lost(error.message));
    client.on('end', () => lost('closed'));
    try {
      await client.connect();
      for (const channel of this.channels) await client.query(`listen ${channel}`);
    } catch (error) {
      client.removeAllListeners('end');
      await client.end().catch(() => {});
      throw error;
    }
    if (this.closed) {
      await client.end().catch(() => {});
      return;
    }
    this.client = client;
    this.failures = 0;
  }

  private reconnectLater(): void {
    const delay = RECONNECT_DELAYS_MS[Math.min(this.failures, RECONNECT_DELAYS_MS.length - 1)] ?? 1000;
    this.failures++;
    setTimeout(() => {
      if (this.closed) return;
      this.listen().then(
        () => {
          if (this.client) this.tell(true);
        },
        () => this.reconnectLater(),
      );
    }, delay).unref();
  }

  private tell(connected: boolean): void {
    for (const handler of this.connectionHandlers) handler(connected);
  }
}
