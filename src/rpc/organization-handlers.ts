import { appApi } from '@viamrobotics/sdk';
import type { Organization } from '../domain/models.js';
import type { OrganizationService } from '../services/organization-service.js';
import type { LocationService } from '../services/location-service.js';
import type { AppHandlers } from './app-service-impl.js';
import { callerOf } from './call-context.js';
import { timestamp } from './wire-values.js';

const toProto = (org: Organization) =>
  new appApi.Organization({
    id: org.id,
    name: org.name,
    createdOn: timestamp(org.createdOn),
    publicNamespace: org.publicNamespace,
    defaultRegion: org.region,
    ...(org.cid === undefined ? {} : { cid: org.cid }),
  });

/** AppService methods about organizations: request in, one service call, response out. */
export function organizationHandlers(orgs: OrganizationService, locations: LocationService): AppHandlers {
  return {
    async getUserIDByEmail(req, ctx) {
      return { userId: await orgs.userIdByEmail(callerOf(ctx), req.email) };
    },
    async createOrganization(req, ctx) {
      return { organization: toProto(await orgs.create(callerOf(ctx), req.name)) };
    },
    async listOrganizations(_req, ctx) {
      return { organizations: (await orgs.list(callerOf(ctx))).map(toProto) };
    },
    async getOrganization(req, ctx) {
      return { organization: toProto(await orgs.get(callerOf(ctx), req.organizationId)) };
    },
    async getOrganizationNamespaceAvailability(req, ctx) {
      return { available: await orgs.isNamespaceAvailable(callerOf(ctx), req.publicNamespace) };
    },
    async updateOrganization(req, ctx) {
      const org = await orgs.update(callerOf(ctx), req.organizationId, {
        name: req.name,
        publicNamespace: req.publicNamespace,
        region: req.region,
        cid: req.cid,
      });
      return { organization: toProto(org) };
    },
    async updateOrganizationNamespace(req, ctx) {
      return {
        organization: toProto(
          await orgs.updateNamespace(callerOf(ctx), req.organizationId, req.newPublicNamespace),
        ),
      };
    },
    async deleteOrganization(req, ctx) {
      await orgs.delete(callerOf(ctx), req.organizationId);
      return {};
    },
    async listOrganizationsByUser(req, ctx) {
      const list = await orgs.listByUser(callerOf(ctx), req.userId);
      return {
        orgs: list.map((org) => ({
          orgId: org.id,
          orgName: org.name,
          ...(org.cid === undefined ? {} : { orgCid: org.cid }),
          ...(org.publicNamespace === '' ? {} : { publicNamespace: org.publicNamespace }),
        })),
      };
    },
    async getOrganizationsWithAccessToLocation(req, ctx) {
      const list = await locations.organizationsWithAccess(callerOf(ctx), req.locationId);
      return { organizationIdentities: list };
    },
  };
}
