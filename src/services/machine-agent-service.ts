import { createHash } from 'node:crypto';
import type { PartPrincipal } from '../authz/principal.js';
import type { IssuedCertificate } from '../crypto/certificate-authority.js';
import { DomainError, failedPrecondition, notFound } from '../domain/errors.js';
import type { AgentInfo } from '../domain/models.js';
import { partAddresses } from '../domain/part-address.js';
import { toRobotConfigJson } from '../domain/config/robot-config.js';
import type { ChangeKey, ChangeTracker } from '../store/change-tracker.js';
import { nowIso, type Db } from '../store/db.js';
import type { PartRecord } from '../store/records.js';
import { signalingInsecure, type ServiceDeps } from './context.js';
import type { FragmentResolver } from './fragment-resolver.js';
import { FreshCache } from './fresh-cache.js';
import type { PackageService } from './package-service.js';

/** The `cloud` section a machine needs to run: who it is, where it lives, how it authenticates. */
export interface CloudSection {
  id: string;
  fqdn: string;
  localFqdn: string;
  secret: string;
  locationSecrets: { id: string; secret: string }[];
  locationId: string;
  machineId: string;
  primaryOrgId: string;
  signalingInsecure: boolean;
}

/** What RobotService.Config serves: the converted config, the cloud section, and a revision. */
export interface ServedConfig {
  /** RobotConfig in protobuf JSON form, fragments merged in, without `cloud` and `revision`. */
  body: Record<string, unknown>;
  /** What could not be merged (a dropped duplicate, a mod that does not apply), per fragment. */
  fragmentStatuses: { fragmentId: string; error: string }[];
  cloud: CloudSection;
  /** Changes whenever anything in the served config changes. */
  revision: string;
}

/** How many parts' served configs (per platform) and restart answers are kept in memory. */
export interface MachineCacheSizes {
  configs: number;
  restartAnswers: number;
}

/** About 2-5 KB per config (its encoded reply), 100 B per restart answer. */
export const DEFAULT_MACHINE_CACHE_SIZES: MachineCacheSizes = { configs: 50_000, restartAnswers: 200_000 };

/**
 * The merged config converted for the machine. A config stored before a rule it breaks existed is
 * the server's state, not the machine's request: FAILED_PRECONDITION, naming what to fix.
 */
function servable(config: Record<string, unknown>): Record<string, unknown> {
  try {
    return toRobotConfigJson(config);
  } catch (error) {
    if (error instanceof DomainError && error.kind === 'invalid_argument') {
      throw failedPrecondition(
        `the part's config, merged with its fragments, is not one viam-server accepts; fix it with UpdateRobotPart: ${error.message}`,
      );
    }
    throw error;
  }
}

/**
 * The machine-facing side: what a part (viam-server, authenticated with its secret) asks for
 * itself: its config, whether to restart, a certificate (its logs go to PartLogService). Every
 * call records that the part was seen.
 */
export class MachineAgentService {
  /** Rendered configs (the RPC layer's encoded replies), with the function that rendered each. */
  private readonly configs: FreshCache<string, { render: unknown; rendered: unknown }>;
  /** Parts known to have no restart pending, as of the entry's stamp (`restart:<id>` clears it). */
  private readonly noRestart: FreshCache<string, true>;

  constructor(
    private readonly deps: ServiceDeps,
    private readonly fragments: FragmentResolver,
    private readonly packages: PackageService,
    changes: ChangeTracker,
    sizes: MachineCacheSizes | undefined = DEFAULT_MACHINE_CACHE_SIZES,
  ) {
    this.configs = new FreshCache(changes, sizes.configs);
    this.noRestart = new FreshCache(changes, sizes.restartAnswers);
  }

  /**
   * The part's config as served, rendered by `render` (the RPC layer encodes the reply), from
   * memory while nothing it is made of changed: the part, its machine, location and
   * organization, every fragment it reaches, the registry when it uses registry modules. The
   * platform the agent reports is part of the key. Only what `render` returns is kept, so an
   * unchanged config is neither recomputed nor re-encoded.
   */
  async config<T>(
    principal: PartPrincipal,
    agentInfo: AgentInfo | undefined,
    render: (served: ServedConfig) => T,
  ): Promise<T> {
    this.seen(principal, agentInfo);
    // The platform viam-server reports, such as `linux/arm64` (bounded: it is echoed in module errors).
    const platform = agentInfo?.platform?.slice(0, 64) || 'any';
    const key = `${principal.id}\n${platform}`;
    const cached = this.configs.get(key);
    if (cached?.render === render) return cached.rendered as T;
    const stamp = this.configs.stamp();
    const { served, dependsOn } = await this.compute(principal, platform);
    const rendered = render(served);
    this.configs.set(key, { render, rendered }, stamp, dependsOn);
    return rendered;
  }

  private async compute(
    principal: PartPrincipal,
    platform: string,
  ): Promise<{ served: ServedConfig; dependsOn: ChangeKey[] }> {
    const { db, repos, secrets, settings } = this.deps;
    const part = await this.load(db, principal);
    const location = await repos.locations.findById(db, part.locationId);
    if (!location) throw notFound('part not found');
    const merged = await this.fragments.merged(db, location.organizationId, part.config);
    const body = servable(merged.config);
    const usesRegistry = await this.serveRegistryModules(db, principal, platform, merged.config, body);
    const partSecrets = await repos.parts.listSecrets(db, part.id);
    const locationSecrets = await repos.locations.listSecrets(db, location.id);
    const { fqdn, localFqdn } = partAddresses(part.dnsName, part.locationId, settings.domain);
    const cloud: CloudSection = {
      id: part.id,
      fqdn,
      localFqdn,
      secret: partSecrets[0] ? secrets.open(partSecrets[0].sealed) : '',
      locationSecrets: locationSecrets.map((s) => ({ id: s.id, secret: secrets.open(s.sealed) })),
      locationId: location.id,
      machineId: part.machineId,
      primaryOrgId: location.organizationId,
      signalingInsecure: signalingInsecure(settings),
    };
    // viam-server logs every entry at error level on every poll: only mods that failed belong there.
    const fragmentStatuses = merged.statuses
      .filter((s) => s.failedMod)
      .map(({ fragmentId, error }) => ({ fragmentId, error }));
    const revision = createHash('sha256')
      .update(JSON.stringify([body, cloud, fragmentStatuses]))
      .digest('hex')
      .slice(0, 32);
    const dependsOn: ChangeKey[] = [
      `part:${part.id}`,
      `machine:${part.machineId}`,
      `location:${location.id}`,
      `organization:${location.organizationId}`,
      ...merged.fragmentIds.map((id): ChangeKey => `fragment:${id}`),
    ];
    if (usesRegistry) dependsOn.push('registry');
    return { served: { body, fragmentStatuses, cloud, revision }, dependsOn };
  }

  /**
   * Gives each registry module of the served config what viam-server needs to run it: a
   * `packages` entry naming the concrete version for the machine's platform, and an
   * `executable_path` inside that package. A module that can't be resolved is still served, with
   * `status.error` saying why, so the rest of the machine starts.
   */
  private async serveRegistryModules(
    db: Db,
    principal: PartPrincipal,
    platform: string,
    config: Record<string, unknown>,
    body: Record<string, unknown>,
  ): Promise<boolean> {
    const raw = Array.isArray(config.modules) ? (config.modules as unknown[]) : [];
    const served = Array.isArray(body.modules) ? (body.modules as Record<string, unknown>[]) : [];
    const wanted: { index: number; moduleId: string; version: string }[] = [];
    raw.forEach((module, index) => {
      if (typeof module !== 'object' || module === null) return;
      const { type, module_id: moduleId, version } = module as Record<string, unknown>;
      if (type !== 'registry') return;
      wanted.push({
        index,
        moduleId: typeof moduleId === 'string' ? moduleId : '',
        version: typeof version === 'string' ? version : '',
      });
    });
    if (wanted.length === 0) return false;
    const resolved = await this.packages.resolveModules(db, principal, platform, wanted);
    const packages = Array.isArray(body.packages) ? (body.packages as Record<string, unknown>[]) : [];
    // Package names the config already uses, with the version each stands for.
    const taken = new Map(packages.map((p) => [p.name, p.version]));
    wanted.forEach(({ index, moduleId }, i) => {
      const module = served[index];
      let result = resolved[i];
      if (!module || !result) return;
      if (
        result.ok &&
        taken.has(result.package.name) &&
        taken.get(result.package.name) !== result.package.version
      ) {
        result = {
          ok: false,
          error: `module ${moduleId} is configured twice with different versions, or its package name is taken`,
        };
      }
      if (!result.ok) {
        module.status = { error: result.error };
        delete module.path;
        return;
      }
      module.path = result.executablePath;
      if (!taken.has(result.package.name)) packages.push(result.package);
      taken.set(result.package.name, result.package.version);
    });
    if (packages.length > 0) body.packages = packages;
    return true;
  }

  /**
   * True exactly once after MarkPartForRestart; and how often to ask again. Answered from memory
   * while the part is known to have no restart pending; a restart request clears that.
   */
  async needsRestart(
    principal: PartPrincipal,
  ): Promise<{ mustRestart: boolean; checkIntervalSeconds: number }> {
    const { db, repos, settings } = this.deps;
    const checkIntervalSeconds = settings.restartCheckIntervalSeconds;
    this.seen(principal, undefined);
    if (this.noRestart.get(principal.id)) return { mustRestart: false, checkIntervalSeconds };
    const stamp = this.noRestart.stamp();
    const mustRestart = await repos.parts.takeRestartRequest(db, principal.id);
    if (!mustRestart) this.noRestart.set(principal.id, true, stamp, [`restart:${principal.id}`]);
    return { mustRestart, checkIntervalSeconds };
  }

  /** A TLS certificate for the part's addresses, signed by the server's machine CA (chain included). */
  async certificate(principal: PartPrincipal): Promise<IssuedCertificate> {
    this.seen(principal, undefined);
    const part = await this.load(this.deps.db, principal);
    const { fqdn, localFqdn } = partAddresses(part.dnsName, part.locationId, this.deps.settings.domain);
    const issued = this.deps.certificates.issue(fqdn, [fqdn, localFqdn]);
    return { ...issued, certificatePem: issued.certificatePem + this.deps.certificates.certificatePem };
  }

  /** Records the call, and what its agent said about itself (written behind, see PartAccessLog). */
  private seen(principal: PartPrincipal, agentInfo: AgentInfo | undefined): void {
    // A plain copy: what the agent said, as it is stored.
    this.deps.repos.parts.recordAccess(principal.id, nowIso(), agentInfo && { ...agentInfo });
  }

  private async load(db: Db, principal: PartPrincipal): Promise<PartRecord> {
    const part = await this.deps.repos.parts.findById(db, principal.id);
    if (!part) throw notFound('part not found');
    return part;
  }
}
