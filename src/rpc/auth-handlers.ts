import type { ServiceImpl } from '@connectrpc/connect';
import type { AuthenticationService } from '../services/authentication-service.js';
import type { AuthService } from './auth-service-descriptor.js';
import { sourceAddressKey } from './call-context.js';

/** proto.rpc.v1.AuthService: credentials in, access token out. */
export function authHandlers(auth: AuthenticationService): Partial<ServiceImpl<typeof AuthService>> {
  return {
    async authenticate(req, ctx) {
      const { type = '', payload = '' } = req.credentials ?? {};
      const source = ctx.values.get(sourceAddressKey);
      return { accessToken: await auth.authenticate(req.entity, type, payload, source) };
    },
  };
}
