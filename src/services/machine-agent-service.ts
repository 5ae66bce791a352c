import { createHash } from 'node:crypto';
import type { PartPrincipal } from '../authz/principal.js';
import type { IssuedCertificate } from '../crypto/certificate-authority.js';
import { notFound } from '../domain/errors.js';
import type { AgentInfo } from '../domain/models.js';
import { partAddresses } from '../domain/part-address.js';
import { toRobotConfigJson } from '../domain/robot-config.js';
import { nowIso, type Db } from '../store/db.js';
import type { RobotPartRow } from '../store/schema.js';
import type { ServiceDeps } from './context.js';
import type { FragmentResolver } from './fragment-resolver.js';

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
 * The machine-facing side: what a part (viam-server, authenticated with its secret) asks for
 * itself: its config, whether to restart, a certificate (its logs go to PartLogService). Every
 * call records that the part was seen.
 */
export class MachineAgentService {
  constructor(
    private readonly deps: ServiceDeps,
    private readonly fragments: FragmentResolver,
  ) {}

  async config(principal: PartPrincipal, agentInfo: AgentInfo | undefined): Promise<ServedConfig> {
    const { db, repos, secrets, settings } = this.deps;
    const part = await this.seen(db, principal, agentInfo);
    const robot = await repos.robots.findById(db, part.robot_id);
    const location = robot ? await repos.locations.findById(db, robot.location_id) : undefined;
    if (!robot || !location) throw notFound('part not found');
    const merged = await this.fragments.merged(
      db,
      location.organization_id,
      JSON.parse(part.config) as Record<string, unknown>,
    );
    const body = toRobotConfigJson(merged.config);
    const partSecrets = await repos.parts.listSecrets(db, part.id);
    const locationSecrets = await repos.locations.listSecrets(db, location.id);
    const { fqdn, localFqdn } = partAddresses(part.dns_name, part.location_id, settings.domain);
    const cloud: CloudSection = {
      id: part.id,
      fqdn,
      localFqdn,
      secret: partSecrets[0] ? secrets.open(partSecrets[0].secret_ciphertext) : '',
      locationSecrets: locationSecrets.map((s) => ({ id: s.id, secret: secrets.open(s.secret_ciphertext) })),
      locationId: location.id,
      machineId: robot.id,
      primaryOrgId: location.organization_id,
      signalingInsecure: !settings.tls,
    };
    const fragmentStatuses = merged.statuses;
    const revision = createHash('sha256')
      .update(JSON.stringify([body, cloud, fragmentStatuses]))
      .digest('hex')
      .slice(0, 32);
    return { body, fragmentStatuses, cloud, revision };
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
    const { fqdn, localFqdn } = partAddresses(part.dns_name, part.location_id, this.deps.settings.domain);
    const issued = this.deps.certificates.issue(fqdn, [fqdn, localFqdn]);
    return { ...issued, certificatePem: issued.certificatePem + this.deps.certificates.certificatePem };
  }

  /** Loads the calling part and records the call (and what its agent said about itself). */
  private async seen(
    db: Db,
    principal: PartPrincipal,
    agentInfo: AgentInfo | undefined,
  ): Promise<RobotPartRow> {
    const part = await this.deps.repos.parts.findById(db, principal.id);
    if (!part) throw notFound('part not found');
    await this.deps.repos.parts.recordAccess(db, part.id, nowIso(), agentInfo && JSON.stringify(agentInfo));
    return part;
  }
}
