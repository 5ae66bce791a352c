/*
 * A small HTTP/1.1 client for the machines benchmark: gRPC-web (binary) and Connect JSON calls
 * as the TypeScript SDK and curl send them, with ready-made request bodies over keep-alive
 * connections (one per call in flight). A gRPC-web call succeeds only with grpc-status 0 (from
 * the trailer frame, or the headers of a trailers-only reply); a Connect call only with HTTP 200.
 * Replies are kept as bytes; decoding is left to the caller, off the clock.
 */
import http from 'node:http';

export interface H1Result {
  /** grpc-status for gRPC-web (HTTP status for Connect: 0 when 200), -1 when the call broke. */
  status: number;
  message: string;
  /** gRPC-web: the reply message without its prefix; Connect: the JSON body. */
  reply: Buffer | undefined;
}

/** Splits a gRPC-web body into its message and its trailers (lower-cased names). */
export function parseGrpcWebBody(body: Buffer): {
  message: Buffer | undefined;
  trailers: Map<string, string>;
} {
  let message: Buffer | undefined;
  const trailers = new Map<string, string>();
  for (let i = 0; i + 5 <= body.length;) {
    const flags = body[i] as number;
    const length = body.readUInt32BE(i + 1);
    const data = body.subarray(i + 5, i + 5 + length);
    if (flags & 0x80) {
      for (const line of data.toString('latin1').split('\r\n')) {
        const colon = line.indexOf(':');
        if (colon > 0) trailers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
      }
    } else message ??= data;
    i += 5 + length;
  }
  return { message, trailers };
}

export class H1Client {
  private readonly agent: http.Agent;
  private readonly host: string;
  private readonly port: number;

  constructor(url: string, connections: number) {
    const u = new URL(url);
    this.host = u.hostname;
    this.port = Number(u.port);
    this.agent = new http.Agent({
      keepAlive: true,
      maxSockets: connections,
      maxFreeSockets: connections,
      scheduling: 'lifo',
    });
  }

  private post(path: string, headers: http.OutgoingHttpHeaders, body: Buffer, timeoutMs: number) {
    return new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer } | Error>(
      (resolve) => {
        const req = http.request(
          {
            host: this.host,
            port: this.port,
            method: 'POST',
            path,
            agent: this.agent,
            headers: { ...headers, 'content-length': body.length },
            timeout: timeoutMs,
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () =>
              resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
            );
            res.on('error', (e) => resolve(e));
          },
        );
        req.on('timeout', () => req.destroy(new Error(`no reply within ${timeoutMs} ms`)));
        req.on('error', (e) => resolve(e));
        req.end(body);
      },
    );
  }

  /** A gRPC-web (binary) unary call with a framed request. Never rejects. */
  async grpcWeb(path: string, token: string, framedRequest: Buffer, timeoutMs: number): Promise<H1Result> {
    const r = await this.post(
      path,
      {
        'content-type': 'application/grpc-web+proto',
        'x-grpc-web': '1',
        'x-user-agent': 'grpc-web-javascript/0.1',
        authorization: `Bearer ${token}`,
        'grpc-timeout': `${timeoutMs}m`,
      },
      framedRequest,
      timeoutMs + 2000,
    );
    if (r instanceof Error) return { status: -1, message: r.message, reply: undefined };
    if (r.status !== 200) return { status: -1, message: `HTTP ${r.status}`, reply: undefined };
    const { message, trailers } = parseGrpcWebBody(r.body);
    const raw = trailers.get('grpc-status') ?? r.headers['grpc-status'];
    const text = trailers.get('grpc-message') ?? r.headers['grpc-message'];
    return {
      status: raw === undefined ? -1 : Number(raw),
      message:
        typeof text === 'string' ? decodeURIComponent(text) : raw === undefined ? 'no grpc-status' : '',
      reply: message,
    };
  }

  /** A Connect unary call with a JSON body. Never rejects. */
  async connectJson(path: string, token: string, json: Buffer, timeoutMs: number): Promise<H1Result> {
    const r = await this.post(
      path,
      {
        'content-type': 'application/json',
        'connect-protocol-version': '1',
        'connect-timeout-ms': String(timeoutMs),
        authorization: `Bearer ${token}`,
      },
      json,
      timeoutMs + 2000,
    );
    if (r instanceof Error) return { status: -1, message: r.message, reply: undefined };
    if (r.status !== 200)
      return { status: r.status, message: r.body.toString('utf8', 0, 300), reply: undefined };
    return { status: 0, message: '', reply: r.body };
  }

  close(): void {
    this.agent.destroy();
  }
}
