import { createHash, randomBytes } from 'node:crypto';
import type { FleetPrincipal } from '../authz/principal.js';
import { hashPassword } from '../crypto/hashing.js';
import { alreadyExists, invalidArgument, notFound } from '../domain/errors.js';
import { newId } from '../domain/ids.js';
import { requireEmail, requireId } from '../domain/validation.js';
import type { InviteDelivery } from '../mail/invite-mailer.js';
import { isUniqueViolation, nowIso, type Db } from '../store/db.js';
import type { InviteRecord, InvitedRole } from '../store/records.js';
import { requirePublicUrl, type ServiceDeps } from './context.js';
import { requireOwnerRemains } from './organization-owners.js';
import {
  parseAuthorization,
  requireOwnerOfGrant,
  sameGrant,
  type Grant,
  type RequestedAuthorization,
} from './requested-authorization.js';

/** Most authorizations one invite may carry. */
export const MAX_INVITE_AUTHORIZATIONS = 100;
/** Password length bounds for users made by accepting an invite. */
export const MIN_PASSWORD_LENGTH = 8;
export const MAX_PASSWORD_LENGTH = 1024;

export interface Member {
  userId: string;
  email: string;
  /** When the user got their first role in the organization. */
  dateAdded: Date;
}

export interface Invite {
  organizationId: string;
  email: string;
  createdOn: Date;
  authorizations: Grant[];
}

/** What the accept page shows for a token. */
export interface InviteSummary {
  organizationName: string;
  email: string;
  /** True when the invitee must choose a password (no user with that email has one yet). */
  needsPassword: boolean;
}

const hashToken = (token: string): string => createHash('sha256').update(token).digest('hex');
const sameResource = (a: Grant, b: Grant) =>
  a.resourceType === b.resourceType && a.resourceId === b.resourceId;

/**
 * Members (users holding a role in an organization) and invites (an email and the roles it will
 * get). Every invite has an accept link `<public url>/invite/<token>`; the token is stored hashed
 * (to find the invite) and sealed with the server key (so `flotilla invite-link` can print it again).
 */
export class MemberService {
  constructor(
    private readonly deps: ServiceDeps,
    private readonly deliver: InviteDelivery,
  ) {}

  async list(
    principal: FleetPrincipal,
    organizationId: string,
  ): Promise<{ members: Member[]; invites: Invite[] }> {
    const orgId = requireId(organizationId, 'organization_id');
    const { db, repos, authz } = this.deps;
    await authz.require(db, principal, { type: 'organization', id: orgId }, 'read_organization');
    const grants = await repos.invites.listUserGrantsInOrganization(db, orgId);
    const firstGrant = new Map<string, string>();
    for (const g of grants) if (!firstGrant.has(g.identityId)) firstGrant.set(g.identityId, g.createdAt);
    const users = await repos.users.listByIds(db, [...firstGrant.keys()]);
    const members = users
      .map((u) => ({
        userId: u.id,
        email: u.email,
        dateAdded: new Date(firstGrant.get(u.id) ?? u.createdAt),
      }))
      .sort((a, b) => a.dateAdded.getTime() - b.dateAdded.getTime() || a.userId.localeCompare(b.userId));
    const invites = (await repos.invites.listForOrganization(db, orgId)).map(toInvite);
    return { members, invites };
  }

  async createInvite(
    principal: FleetPrincipal,
    organizationId: string,
    rawEmail: string,
    authorizations: RequestedAuthorization[],
    sendEmail: boolean | undefined,
  ): Promise<Invite> {
    const orgId = requireId(organizationId, 'organization_id');
    const email = requireEmail(rawEmail);
    const requested =
      authorizations.length === 0
        ? [
            {
              organizationId: orgId,
              role: 'owner' as const,
              resourceType: 'organization' as const,
              resourceId: orgId,
            },
          ]
        : this.parseGrants(authorizations, orgId);
    const token = randomBytes(32).toString('base64url');
    const { repos, authz } = this.deps;
    const { invite, organizationName } = await this.deps.db.transaction().execute(async (trx) => {
      await authz.require(trx, principal, { type: 'organization', id: orgId }, 'write_organization');
      // The invite is useless without a link to it: refused before anything is stored.
      requirePublicUrl(this.deps.settings);
      for (const grant of requested) await requireOwnerOfGrant(authz, trx, principal, grant);
      const pending = () => alreadyExists(`an invite for ${email} is already pending`);
      if (await repos.invites.findByEmail(trx, orgId, email)) throw pending();
      const user = await repos.users.findByEmail(trx, email);
      if (
        user &&
        (await repos.authorizations.listForIdentity(trx, user.id)).some((g) => g.organizationId === orgId)
      ) {
        throw alreadyExists(`${email} is already a member of the organization`);
      }
      const invite: InviteRecord = {
        id: newId(),
        organizationId: orgId,
        email,
        roles: requested.map(toInvitedRole),
        sendEmail: sendEmail !== false,
        tokenHash: hashToken(token),
        sealedToken: this.deps.secrets.seal(token),
        createdAt: nowIso(),
      };
      try {
        await repos.invites.create(trx, invite);
      } catch (error) {
        // Invited by a concurrent call meanwhile: the unique (organization, email) says so.
        if (isUniqueViolation(error)) throw pending();
        throw error;
      }
      return { invite, organizationName: await this.organizationName(trx, orgId) };
    });
    await this.deliver({ to: email, organizationName, link: this.link(token) }, sendEmail !== false);
    return toInvite(invite);
  }

  async updateInviteAuthorizations(
    principal: FleetPrincipal,
    organizationId: string,
    rawEmail: string,
    add: RequestedAuthorization[],
    remove: RequestedAuthorization[],
  ): Promise<Invite> {
    const orgId = requireId(organizationId, 'organization_id');
    const email = requireEmail(rawEmail);
    const toAdd = this.parseGrants(add, orgId, 'add_authorizations');
    const toRemove = remove.map((a, i) => this.parseGrant(a, orgId, `remove_authorizations[${i}]`));
    const { repos, authz } = this.deps;
    return this.deps.db.transaction().execute(async (trx) => {
      const { record: invite } = await authz.require(
        trx,
        principal,
        { type: 'invite', organizationId: orgId, email },
        'write_organization',
      );
      let grants = toInvite(invite).authorizations;
      for (const grant of toRemove) {
        if (!grants.some((g) => sameGrant(g, grant))) {
          throw notFound(`the invite holds no ${grant.resourceType}_${grant.role} on ${grant.resourceId}`);
        }
        grants = grants.filter((g) => !sameGrant(g, grant));
      }
      for (const grant of toAdd) {
        await requireOwnerOfGrant(authz, trx, principal, grant);
        if (grants.some((g) => sameResource(g, grant))) {
          throw invalidArgument(
            `the invite already holds a role on ${grant.resourceType} ${grant.resourceId}; remove it first`,
          );
        }
        grants.push(grant);
      }
      if (grants.length === 0) {
        throw invalidArgument('an invite keeps at least one authorization; delete the invite instead');
      }
      if (grants.length > MAX_INVITE_AUTHORIZATIONS) {
        throw invalidArgument(`an invite holds at most ${MAX_INVITE_AUTHORIZATIONS} authorizations`);
      }
      const roles = grants.map(toInvitedRole);
      await repos.invites.update(trx, invite.id, { roles });
      return toInvite({ ...invite, roles });
    });
  }

  async deleteInvite(principal: FleetPrincipal, organizationId: string, rawEmail: string): Promise<void> {
    const orgId = requireId(organizationId, 'organization_id');
    const email = requireEmail(rawEmail);
    const { repos, authz } = this.deps;
    await this.deps.db.transaction().execute(async (trx) => {
      const { record: invite } = await authz.require(
        trx,
        principal,
        { type: 'invite', organizationId: orgId, email },
        'write_organization',
      );
      await repos.invites.delete(trx, invite.id);
    });
  }

  /** Sends the invite's link again (or logs it); NOT_FOUND when no invite is pending for the email. */
  async resendInvite(
    principal: FleetPrincipal,
    organizationId: string,
    rawEmail: string,
    sendEmail: boolean | undefined,
  ): Promise<Invite> {
    const orgId = requireId(organizationId, 'organization_id');
    const email = requireEmail(rawEmail);
    const { db, authz } = this.deps;
    const { record: invite } = await authz.require(
      db,
      principal,
      { type: 'invite', organizationId: orgId, email },
      'write_organization',
    );
    const link = this.linkOf(invite);
    const organizationName = await this.organizationName(db, orgId);
    await this.deliver({ to: email, organizationName, link }, sendEmail !== false);
    return toInvite(invite);
  }

  /** Removes every role the user holds in the organization; never its last owner. */
  async deleteMember(principal: FleetPrincipal, organizationId: string, userId: string): Promise<void> {
    const orgId = requireId(organizationId, 'organization_id');
    const id = requireId(userId, 'user_id');
    const { repos, authz } = this.deps;
    await this.deps.db.transaction().execute(async (trx) => {
      await authz.require(trx, principal, { type: 'organization', id: orgId }, 'write_organization');
      // Owner grants change one at a time per organization, so two removals cannot both pass the check.
      await repos.organizations.lock(trx, orgId);
      const grants = await repos.invites.listUserGrantsInOrganization(trx, orgId);
      if (!grants.some((g) => g.identityId === id)) throw notFound('member not found');
      await requireOwnerRemains(repos, trx, orgId, id);
      await repos.invites.deleteGrantsInOrganization(trx, id, orgId);
    });
  }

  /** The accept page's view of a token; NOT_FOUND for an unknown or used token. */
  async inviteForToken(token: string): Promise<InviteSummary> {
    const { db, repos } = this.deps;
    const invite = await this.inviteByToken(db, token);
    const user = await repos.users.findByEmail(db, invite.email);
    return {
      organizationName: await this.organizationName(db, invite.organizationId),
      email: invite.email,
      needsPassword: !user?.passwordHash,
    };
  }

  /**
   * Accepts an invite: makes the user (with this password) when the email has none, or sets the
   * password of a user who has none yet, then gives the user the invite's roles and deletes it.
   */
  async acceptInvite(token: string, password: string | undefined): Promise<InviteSummary> {
    const { repos } = this.deps;
    const summary = await this.inviteForToken(token);
    let passwordHash: string | undefined;
    if (summary.needsPassword) {
      const pw = password ?? '';
      if (pw.length < MIN_PASSWORD_LENGTH) {
        throw invalidArgument(`choose a password of at least ${MIN_PASSWORD_LENGTH} characters`);
      }
      if (pw.length > MAX_PASSWORD_LENGTH) throw invalidArgument('the password is too long');
      passwordHash = await hashPassword(pw);
    }
    const accepted = (work: () => Promise<void>) =>
      this.deps.audit.run({ service: 'invite-page', method: 'AcceptInvite' }, work);
    await accepted(() =>
      this.deps.db.transaction().execute(async (trx) => {
        const invite = await this.inviteByToken(trx, token);
        // Deleted first: of two accepts racing, the second finds nothing left to accept.
        if (!(await repos.invites.delete(trx, invite.id))) throw notFound('invite not found or already used');
        let user = await repos.users.findByEmail(trx, invite.email);
        if (!user) {
          if (!passwordHash) throw invalidArgument('a password is required');
          user = { id: newId(), email: invite.email, passwordHash, createdAt: nowIso() };
          await repos.users.create(trx, user);
        } else if (!user.passwordHash) {
          if (!passwordHash) throw invalidArgument('a password is required');
          await repos.users.setPasswordIfUnset(trx, user.id, passwordHash);
        }
        this.deps.audit.notePrincipal({ kind: 'user', id: user.id, name: user.email });
        this.deps.audit.noteResources([
          { type: 'organization', id: invite.organizationId },
          { type: 'invite', id: invite.email },
        ]);
        await this.grant(trx, user.id, invite);
      }),
    );
    return { ...summary, needsPassword: false };
  }

  /** Gives a user who just logged in the roles of invites for their email that were not mailed. */
  async claimUnmailedInvites(user: { id: string; email: string }): Promise<void> {
    const { db, repos } = this.deps;
    if ((await repos.invites.listUnmailedForEmail(db, user.email)).length === 0) return;
    // Recorded as the login that claimed them, by the user, whatever path the login came by.
    const principal = { kind: 'user' as const, id: user.id, name: user.email };
    await this.deps.audit.run(
      { service: 'proto.rpc.v1.AuthService', method: 'Authenticate', principal },
      () =>
        db.transaction().execute(async (trx) => {
          for (const invite of await repos.invites.listUnmailedForEmail(trx, user.email)) {
            if (await repos.invites.delete(trx, invite.id)) {
              this.deps.audit.noteResources([
                { type: 'organization', id: invite.organizationId },
                { type: 'invite', id: invite.email },
              ]);
              await this.grant(trx, user.id, invite);
            }
          }
        }),
    );
  }

  /** The accept link of a pending invite, for `flotilla invite-link` on the server's host. */
  async inviteLink(organizationId: string, rawEmail: string): Promise<string> {
    const orgId = requireId(organizationId, 'organization_id');
    const email = requireEmail(rawEmail);
    const invite = await this.deps.repos.invites.findByEmail(this.deps.db, orgId, email);
    if (!invite) throw notFound(`no invite is pending for ${email}`);
    return this.linkOf(invite);
  }

  /** Inserts the invite's grants the user does not hold yet, skipping resources deleted since. */
  private async grant(trx: Db, userId: string, invite: InviteRecord): Promise<void> {
    const { repos, authz } = this.deps;
    const held = await repos.authorizations.listForIdentity(trx, userId);
    const now = nowIso();
    for (const g of invite.roles) {
      const scope = await authz.scopeOf(trx, { type: g.resourceType, id: g.resourceId });
      if (!scope || scope.organizationId !== invite.organizationId) continue;
      if (
        held.some(
          (h) => h.resourceType === g.resourceType && h.resourceId === g.resourceId && h.role === g.role,
        )
      ) {
        continue;
      }
      await repos.authorizations.create(trx, {
        id: newId(),
        organizationId: invite.organizationId,
        identityId: userId,
        identityType: 'user',
        resourceType: g.resourceType,
        resourceId: g.resourceId,
        role: g.role,
        createdAt: now,
      });
    }
  }

  private parseGrants(
    authorizations: RequestedAuthorization[],
    orgId: string,
    field = 'authorizations',
  ): Grant[] {
    if (authorizations.length > MAX_INVITE_AUTHORIZATIONS) {
      throw invalidArgument(`an invite holds at most ${MAX_INVITE_AUTHORIZATIONS} authorizations`);
    }
    const grants: Grant[] = [];
    authorizations.forEach((a, i) => {
      const grant = this.parseGrant(a, orgId, `${field}[${i}]`);
      if (grants.some((g) => sameResource(g, grant))) {
        throw invalidArgument(`${field} name ${grant.resourceType} ${grant.resourceId} more than once`);
      }
      grants.push(grant);
    });
    return grants;
  }

  private parseGrant(a: RequestedAuthorization, orgId: string, field: string): Grant {
    const grant = parseAuthorization(a, field);
    if (grant.organizationId !== orgId) {
      throw invalidArgument(`${field}.organization_id must be the invite's organization ${orgId}`);
    }
    return grant;
  }

  private async inviteByToken(db: Db, token: string): Promise<InviteRecord> {
    const invite = token ? await this.deps.repos.invites.findByTokenHash(db, hashToken(token)) : undefined;
    if (!invite) throw notFound('invite not found or already used');
    return invite;
  }

  private async organizationName(db: Db, orgId: string): Promise<string> {
    return (await this.deps.repos.organizations.findById(db, orgId))?.name ?? '';
  }

  private link(token: string): string {
    return `${requirePublicUrl(this.deps.settings)}/invite/${token}`;
  }

  /** The accept link of a stored invite: its token unsealed, the one place that is done. */
  private linkOf(invite: InviteRecord): string {
    return this.link(this.deps.secrets.open(invite.sealedToken));
  }
}

const toInvitedRole = (g: Grant): InvitedRole => ({
  role: g.role,
  resourceType: g.resourceType,
  resourceId: g.resourceId,
});

function toInvite(invite: InviteRecord): Invite {
  return {
    organizationId: invite.organizationId,
    email: invite.email,
    createdOn: new Date(invite.createdAt),
    authorizations: invite.roles.map((r) => ({
      organizationId: invite.organizationId,
      role: r.role,
      resourceType: r.resourceType,
      resourceId: r.resourceId,
    })),
  };
}
