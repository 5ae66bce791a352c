import type { AuthorizationGrant } from '../domain/models.js';
import type { RoleRequest, RoleService } from '../services/role-service.js';
import type { AppHandlers } from './app-service-impl.js';
import { callerOf } from './call-context.js';

interface WireAuthorization {
  authorizationType: string;
  authorizationId: string;
  resourceType: string;
  resourceId: string;
  identityId: string;
  identityType: string;
  organizationId: string;
}

const EMPTY: WireAuthorization = {
  authorizationType: '',
  authorizationId: '',
  resourceType: '',
  resourceId: '',
  identityId: '',
  identityType: '',
  organizationId: '',
};

const fromWire = (a: WireAuthorization | undefined): RoleRequest => ({ ...EMPTY, ...a });

/** Users appear with an empty identity type, keys with "api-key", as the hosted service answers. */
const toWire = (g: AuthorizationGrant): WireAuthorization => ({
  authorizationType: 'role',
  authorizationId: `${g.resourceType}_${g.role}`,
  resourceType: g.resourceType,
  resourceId: g.resourceId,
  identityId: g.identityId,
  identityType: g.identityType === 'api-key' ? 'api-key' : '',
  organizationId: g.organizationId,
});

/** AppService methods about role grants and permissions. */
export function roleHandlers(roles: RoleService): AppHandlers {
  return {
    async addRole(req, ctx) {
      await roles.add(callerOf(ctx), fromWire(req.authorization));
      return {};
    },
    async removeRole(req, ctx) {
      await roles.remove(callerOf(ctx), fromWire(req.authorization));
      return {};
    },
    async changeRole(req, ctx) {
      await roles.change(callerOf(ctx), fromWire(req.oldAuthorization), fromWire(req.newAuthorization));
      return {};
    },
    async listAuthorizations(req, ctx) {
      return {
        authorizations: (await roles.list(callerOf(ctx), req.organizationId, req.resourceIds)).map(toWire),
      };
    },
    async checkPermissions(req, ctx) {
      return { authorizedPermissions: await roles.check(callerOf(ctx), req.permissions) };
    },
  };
}
