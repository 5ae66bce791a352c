import { createHash } from 'node:crypto';
import type { PartPrincipal } from '../authz/principal.js';
import type { IssuedCertificate } from '../crypto/certificate-authority.js';
import { DomainError, failedPrecondition, notFound } from '../domain/errors.js';
import type { AgentInfo } from '../domain/models.js';
import { partAddresses } from '../domain/part-address.js';
import { toRobotConfigJson } from '../domain/config/robot-config.js';
import { nowIso, type Db } from '../store/db.js';
import type { PartRecord } from '../store/records.js';
import { signalingInsecure, type ServiceDeps } from './context.js';
import type { FragmentResolver } from './fragment-resolver.js';
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
  constructor(
    private readonly deps: ServiceDeps,
    private readonly fragments: FragmentResolver,
    private readonly packages: PackageService,
  ) {}

  async config(principal: PartPrincipal, agentInfo: AgentInfo | undefined): Promise<ServedConfig> {
    const { db, repos, secrets, settings } = this.deps;
    const part = await this.seen(db, principal, agentInfo);
    const location = await repos.locations.findById(db, part.locationId);
    if (!location) throw notFound('part not found');
    const merged = await this.fragments.merged(db, location.organizationId, part.config);
    const body = servable(merged.config);
    // The platform viam-server reports, such as `linux/arm64` (bounded: it is echoed in module errors).
    const platform = agentInfo?.platform?.slice(0, 64) || 'any';
    await this.serveRegistryModules(db, principal, platform, merged.config, body);
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
    return { body, fragmentStatuses, cloud, revision };
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
  ): Promise<void> {
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
    if (wanted.length === 0) return;
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
  }

  /** True exactly once after MarkPartForRestart; and how often to ask again. */
  async needsRestart(
    principal: PartPrincipal,
  ): Promise<{ mustRestart: boolean; checkIntervalSeconds: number }> {
    const { db, repos, settings } = this.deps;
    const part = await this.seen(db, principal, undefined);
    const mustRestart = await repos.parts.takeRestartRequest(db, part.id);
    return { mustRestart, checkIntervalSeconds: settings.restartCheckIntervalSeconds };
  }

  /** A TLS certificate for the part's addresses, signed by the server's machine CA (chain included). */
  async certificate(principal: PartPrincipal): Promise<IssuedCertificate> {
    const part = await this.seen(this.deps.db, principal, undefined);
    const { fqdn, localFqdn } = partAddresses(part.dnsName, part.locationId, this.deps.settings.domain);
    const issued = this.deps.certificates.issue(fqdn, [fqdn, localFqdn]);
    return { ...issued, certificatePem: issued.certificatePem + this.deps.certificates.certificatePem };
  }

  /** Loads the calling part and records the call (and what its agent said about itself). */
  private async seen(
    db: Db,
    principal: PartPrincipal,
    agentInfo: AgentInfo | undefined,
  ): Promise<PartRecord> {
    const part = await this.deps.repos.parts.findById(db, principal.id);
    if (!part) throw notFound('part not found');
    // A plain copy: what the agent said, as it is stored.
    await this.deps.repos.parts.recordAccess(db, part.id, nowIso(), agentInfo && { ...agentInfo });
    return part;
  }
}
