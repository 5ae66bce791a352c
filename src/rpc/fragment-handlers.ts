import { appApi } from '@viamrobotics/sdk';
import type { Fragment, FragmentHistoryEntry, FragmentVisibility } from '../domain/models.js';
import type { FragmentService } from '../services/fragment-service.js';
import type { AppHandlers } from './app-service-impl.js';
import { callerOf } from './call-context.js';
import { EDITOR_TYPE } from './machine-handlers.js';
import { dateOf, structFromObject, structToObject, timestamp } from './wire-values.js';

const TO_PROTO: Record<FragmentVisibility, appApi.FragmentVisibility> = {
  private: appApi.FragmentVisibility.PRIVATE,
  public: appApi.FragmentVisibility.PUBLIC,
  public_unlisted: appApi.FragmentVisibility.PUBLIC_UNLISTED,
};

/** A visibility from the wire; UNSPECIFIED (or absent) reads as undefined. */
function visibilityOf(value: appApi.FragmentVisibility | undefined): FragmentVisibility | undefined {
  switch (value) {
    case appApi.FragmentVisibility.PRIVATE:
      return 'private';
    case appApi.FragmentVisibility.PUBLIC:
      return 'public';
    case appApi.FragmentVisibility.PUBLIC_UNLISTED:
      return 'public_unlisted';
    case appApi.FragmentVisibility.UNSPECIFIED:
    case undefined:
      return undefined;
    default:
      return undefined;
  }
}

const toProto = (f: Fragment) =>
  new appApi.Fragment({
    id: f.id,
    name: f.name,
    fragment: structFromObject(f.config),
    organizationOwner: f.organizationId,
    organizationName: f.organizationName,
    public: f.visibility === 'public',
    visibility: TO_PROTO[f.visibility],
    createdOn: timestamp(f.createdOn),
    lastUpdated: timestamp(f.lastUpdated),
    revision: f.revision,
    robotPartCount: f.robotPartCount,
    organizationCount: f.organizationCount,
    onlyUsedByOwner: f.onlyUsedByOwner,
  });

const historyToProto = (h: FragmentHistoryEntry) =>
  new appApi.FragmentHistoryEntry({
    fragment: h.fragmentId,
    editedOn: timestamp(h.editedOn),
    old: toProto(h.old),
    editedBy: { type: EDITOR_TYPE[h.editor.type], value: h.editor.id, isDeactivated: false },
    revision: h.old.revision,
    config: structFromObject(h.old.config),
  });

/** AppService methods about fragments. */
export function fragmentHandlers(fragments: FragmentService): AppHandlers {
  return {
    async createFragment(req, ctx) {
      const fragment = await fragments.create(
        callerOf(ctx),
        req.organizationId,
        req.name,
        structToObject(req.config),
        visibilityOf(req.visibility),
      );
      return { fragment: toProto(fragment) };
    },
    async getFragment(req, ctx) {
      const { fragment, tags } = await fragments.get(callerOf(ctx), req.id, req.version);
      return { fragment: toProto(fragment), tags };
    },
    async updateFragment(req, ctx) {
      const visibility =
        visibilityOf(req.visibility) ??
        (req.public === undefined ? undefined : req.public ? 'public' : 'private');
      const fragment = await fragments.update(callerOf(ctx), req.id, {
        name: req.name,
        config: req.config ? structToObject(req.config) : undefined,
        visibility,
        lastKnownUpdate: dateOf(req.lastKnownUpdate, 'last_known_update'),
      });
      return { fragment: toProto(fragment) };
    },
    async deleteFragment(req, ctx) {
      await fragments.delete(callerOf(ctx), req.id);
      return {};
    },
    async listFragments(req, ctx) {
      const visibilities = req.fragmentVisibility.flatMap((v) => visibilityOf(v) ?? []);
      const list = await fragments.list(callerOf(ctx), req.organizationId, req.showPublic, visibilities);
      return { fragments: list.map(toProto) };
    },
    async listMachineFragments(req, ctx) {
      const extra = [...req.additionalFragmentIds, ...req.additionalFragments.map((f) => f.fragmentId)];
      return {
        fragments: (await fragments.listForMachine(callerOf(ctx), req.machineId, extra)).map(toProto),
      };
    },
    async listNestedFragments(req, ctx) {
      const extra = req.additionalFragments.map((f) => f.fragmentId);
      return { fragments: (await fragments.listNested(callerOf(ctx), req.fragmentId, extra)).map(toProto) };
    },
    async getFragmentHistory(req, ctx) {
      const page = await fragments.history(
        callerOf(ctx),
        req.id,
        req.pageToken,
        req.pageLimit === undefined ? undefined : Number(req.pageLimit),
      );
      return { history: page.entries.map(historyToProto), nextPageToken: page.nextPageToken };
    },
    async getFragmentUsage(req, ctx) {
      return { versionUsages: await fragments.usage(callerOf(ctx), req.fragmentId) };
    },
    async setFragmentTag(req, ctx) {
      return { tags: await fragments.setTag(callerOf(ctx), req.fragmentId, req.tag, req.revision) };
    },
    async deleteFragmentTag(req, ctx) {
      return { tags: await fragments.deleteTag(callerOf(ctx), req.fragmentId, req.tag) };
    },
  };
}
