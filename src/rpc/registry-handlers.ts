import { appApi } from '@viamrobotics/sdk';
import type { ModuleVersion, RegistryItem } from '../domain/models.js';
import type { ModuleModel, RegistryItemStatus, RegistryVisibility } from '../domain/registry.js';
import type { ModuleFileService } from '../services/module-file-service.js';
import type { RegistryService } from '../services/registry-service.js';
import type { AppHandlers } from './app-service-impl.js';
import { callerOf } from './call-context.js';
import { timestamp } from './wire-values.js';
import { enumOf, PACKAGE_TYPE_NUMBERS, PACKAGE_TYPES } from './wire-enums.js';
import { splitUpload } from './upload-stream.js';

const VISIBILITIES: Record<number, RegistryVisibility> = {
  [appApi.Visibility.PRIVATE]: 'private',
  [appApi.Visibility.PUBLIC]: 'public',
  [appApi.Visibility.PUBLIC_UNLISTED]: 'public_unlisted',
};
const VISIBILITY_NUMBERS: Record<RegistryVisibility, appApi.Visibility> = {
  private: appApi.Visibility.PRIVATE,
  public: appApi.Visibility.PUBLIC,
  public_unlisted: appApi.Visibility.PUBLIC_UNLISTED,
};

const STATUSES: Record<number, RegistryItemStatus> = {
  [appApi.RegistryItemStatus.PUBLISHED]: 'published',
  [appApi.RegistryItemStatus.IN_DEVELOPMENT]: 'in_development',
};

/** A repeated enum filter: UNSPECIFIED entries are dropped, repeats counted once. */
const enumsOf = <T>(table: Record<number, T>, values: readonly number[], field: string): T[] => [
  ...new Set(values.flatMap((v) => enumOf(table, v, field) ?? [])),
];

const modelsOf = (models: readonly appApi.Model[]): ModuleModel[] =>
  models.map((m) => ({
    api: m.api,
    model: m.model,
    description: m.description,
    markdownDocumentation: m.markdownDocumentation,
    supportedHardware: [...m.supportedHardware],
  }));

const modelToProto = (m: ModuleModel, markdown: boolean) =>
  new appApi.Model({
    api: m.api,
    model: m.model,
    description: m.description,
    markdownDocumentation: markdown ? m.markdownDocumentation : undefined,
    supportedHardware: m.supportedHardware,
  });

const versionFields = (v: ModuleVersion, markdown: boolean) => ({
  version: v.version,
  files: v.files.map(
    (f) => new appApi.Uploads({ platform: f.platform, uploadedAt: timestamp(f.uploadedAt) }),
  ),
  models: v.models.map((m) => modelToProto(m, markdown)),
  entrypoint: v.entrypoint,
  firstRun: v.firstRun,
});

function metadataOf(item: RegistryItem, markdown: boolean): appApi.RegistryItem['metadata'] {
  switch (item.type) {
    case 'module':
      return {
        case: 'moduleMetadata',
        value: new appApi.ModuleMetadata({
          models: item.models.map((m) => modelToProto(m, markdown)),
          versions: item.versions.map((v) => new appApi.ModuleVersion(versionFields(v, markdown))),
          entrypoint: item.entrypoint,
          firstRun: item.firstRun,
          markdownDescription: markdown ? item.markdownDescription : undefined,
        }),
      };
    case 'ml_model':
      return { case: 'mlModelMetadata', value: new appApi.MLModelMetadata({ versions: [] }) };
    case 'ml_training':
      return { case: 'mlTrainingMetadata', value: new appApi.MLTrainingMetadata({ versions: [] }) };
    case 'archive':
    case 'slam_map':
      return { case: undefined };
  }
}

const registryItemToProto = (item: RegistryItem, markdown = false) =>
  new appApi.RegistryItem({
    itemId: item.itemId,
    organizationId: item.organizationId,
    publicNamespace: item.publicNamespace,
    name: item.name,
    type: PACKAGE_TYPE_NUMBERS[item.type],
    visibility: VISIBILITY_NUMBERS[item.visibility],
    url: item.url,
    description: item.description,
    metadata: metadataOf(item, markdown),
    createdAt: timestamp(item.createdAt),
    updatedAt: timestamp(item.updatedAt),
  });

const moduleToProto = (item: RegistryItem, markdown = false) =>
  new appApi.Module({
    moduleId: item.itemId,
    name: item.name,
    visibility: VISIBILITY_NUMBERS[item.visibility],
    versions: item.versions.map((v) => new appApi.VersionHistory(versionFields(v, markdown))),
    url: item.url,
    description: item.description,
    models: item.models.map((m) => modelToProto(m, markdown)),
    organizationId: item.organizationId,
    entrypoint: item.entrypoint,
    publicNamespace: item.publicNamespace,
    firstRun: item.firstRun,
    markdownDescription: markdown ? item.markdownDescription : undefined,
  });

/** AppService methods about registry items, modules and module files. */
export function registryHandlers(registry: RegistryService, moduleFiles: ModuleFileService): AppHandlers {
  return {
    async createRegistryItem(req, ctx) {
      await registry.createItem(
        callerOf(ctx),
        req.organizationId,
        req.name,
        enumOf(PACKAGE_TYPES, req.type, 'type'),
      );
      return {};
    },
    async getRegistryItem(req, ctx) {
      const item = await registry.getItem(callerOf(ctx), req.itemId);
      return { item: registryItemToProto(item, req.includeMarkdownDocumentation === true) };
    },
    async updateRegistryItem(req, ctx) {
      const meta = req.metadata.case === 'updateModuleMetadata' ? req.metadata.value : undefined;
      await registry.updateItem(callerOf(ctx), req.itemId, {
        type: enumOf(PACKAGE_TYPES, req.type, 'type'),
        description: req.description,
        visibility: enumOf(VISIBILITIES, req.visibility, 'visibility'),
        url: req.url,
        markdownDescription: req.markdownDescription,
        module: meta && { models: modelsOf(meta.models), entrypoint: meta.entrypoint },
      });
      return {};
    },
    async listRegistryItems(req, ctx) {
      const items = await registry.listItems(callerOf(ctx), {
        organizationId: req.organizationId,
        types: enumsOf(PACKAGE_TYPES, req.types, 'types'),
        visibilities: enumsOf(VISIBILITIES, req.visibilities, 'visibilities'),
        platforms: [...req.platforms],
        statuses: enumsOf(STATUSES, req.statuses, 'statuses'),
        searchTerm: req.searchTerm ?? '',
        publicNamespaces: [...req.publicNamespaces],
      });
      const markdown = req.includeMarkdownDocumentation === true;
      return { items: items.map((item) => registryItemToProto(item, markdown)) };
    },
    async deleteRegistryItem(req, ctx) {
      await registry.deleteItem(callerOf(ctx), req.itemId);
      return {};
    },
    async renameRegistryItem(req, ctx) {
      return { item: registryItemToProto(await registry.renameItem(callerOf(ctx), req.itemId, req.newName)) };
    },
    async transferRegistryItem(req, ctx) {
      await registry.transferItem(callerOf(ctx), req.itemId, req.newPublicNamespace);
      return {};
    },
    async createModule(req, ctx) {
      return registry.createModule(callerOf(ctx), req.organizationId, req.name);
    },
    async updateModule(req, ctx) {
      const url = await registry.updateModule(callerOf(ctx), req.moduleId, {
        visibility: enumOf(VISIBILITIES, req.visibility, 'visibility'),
        url: req.url,
        description: req.description,
        models: modelsOf(req.models),
        entrypoint: req.entrypoint,
        firstRun: req.firstRun,
        markdownDescription: req.markdownDescription,
      });
      return { url };
    },
    async getModule(req, ctx) {
      const item = await registry.getModule(callerOf(ctx), req.moduleId);
      return { module: moduleToProto(item, req.includeMarkdownDocumentation === true) };
    },
    async listModules(req, ctx) {
      const items = await registry.listModules(callerOf(ctx), req.organizationId);
      const markdown = req.includeMarkdownDocumentation === true;
      return { modules: items.map((item) => moduleToProto(item, markdown)) };
    },
    async uploadModuleFile(requests, ctx) {
      const principal = callerOf(ctx);
      const { info, bytes } = await splitUpload<appApi.UploadModuleFileRequest, appApi.ModuleFileInfo>(
        requests,
        ({ moduleFile: part }) =>
          part.case === 'moduleFileInfo'
            ? { info: part.value }
            : part.case === 'file'
              ? { bytes: part.value }
              : undefined,
        'module_file_info',
      );
      const url = await moduleFiles.upload(
        principal,
        {
          moduleId: info.moduleId,
          version: info.version,
          platform: info.platform,
          platformTags: [...info.platformTags],
        },
        bytes,
        ctx.signal,
      );
      return { url };
    },
  };
}
