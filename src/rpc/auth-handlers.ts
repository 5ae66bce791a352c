import type { ServiceImpl } from '@connectrpc/connect';
import type { AuthenticationService } from '../services/authentication-service.js';
import type { AuthService } from './auth-service-descriptor.js';

/** proto.rpc.v1.AuthService: credentials in, access token out. */
export function authHandlers(auth: AuthenticationService): Partial<ServiceImpl<typeof AuthService>> {
  return {
    async authenticate(req) {
      const { type = '', payload = '' } = req.credentials ?? {};
      return { accessToken: await auth.authenticate(req.entity, type, payload) };
    },
  };
}
