import { MethodKind, type AnyMessage, type MessageType } from '@bufbuild/protobuf';
import { createContextValues, type HandlerContext } from '@connectrpc/connect';
import type { AuthenticationService } from '../services/authentication-service.js';
import { principalKey, sourceAddressKey } from './call-context.js';
import { callerFor } from './interceptors.js';
import { checkDecoded } from './request-guards.js';

/** One served service as the routes register it: its descriptor (tolerant requests) and handlers. */
export interface ServedService {
  typeName: string;
  methods: Record<string, { name: string; kind: MethodKind; I: MessageType; O: MessageType }>;
}

/** What a lean call hands its method: the call's metadata and its end. */
export interface LeanCallInfo {
  headers: Record<string, string | string[] | undefined>;
  signal: AbortSignal;
  remoteAddress: string | undefined;
}

export type LeanMethod = (request: Uint8Array, call: LeanCallInfo) => Promise<Uint8Array>;

type UnaryHandler = (req: AnyMessage, ctx: HandlerContext) => Promise<unknown>;

/**
 * The unary methods of `service` as the lean path (src/server/lean-grpc.ts) serves them: the very
 * handlers the framework calls, after the same steps its interceptors take (the request decoded
 * tolerantly and checked, the caller authenticated where the method needs one). Errors are
 * thrown as they are; the lean path translates them with the framework's translation.
 */
export function leanMethods(
  service: ServedService,
  handlers: object,
  auth: AuthenticationService,
  needsCaller: (procedure: string) => boolean,
): Map<string, LeanMethod> {
  const methods = new Map<string, LeanMethod>();
  const impl = handlers as Record<string, UnaryHandler | undefined>;
  for (const [local, method] of Object.entries(service.methods)) {
    const handler = impl[local];
    if (method.kind !== MethodKind.Unary || typeof handler !== 'function') continue;
    const procedure = `${service.typeName}/${method.name}`;
    const authenticated = needsCaller(procedure);
    methods.set(`/${procedure}`, async (bytes, call) => {
      const request = method.I.fromBinary(bytes);
      checkDecoded(request);
      const values = createContextValues().set(sourceAddressKey, call.remoteAddress);
      if (authenticated) {
        const authorization = call.headers.authorization;
        values.set(
          principalKey,
          await callerFor(auth, typeof authorization === 'string' ? authorization : undefined),
        );
      }
      // The handlers of these services read the caller and the source address, nothing else;
      // the signal is made only if one asks for it (an AbortController per call costs).
      const ctx = {
        values,
        get signal() {
          return call.signal;
        },
      } as HandlerContext;
      const reply = await handler.call(impl, request, ctx);
      const message = reply instanceof method.O ? reply : new method.O(reply as never);
      return message.toBinary();
    });
  }
  return methods;
}
