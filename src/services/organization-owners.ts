import { failedPrecondition } from '../domain/errors.js';
import type { Db } from '../store/db.js';
import type { Repositories } from '../store/index.js';

/**
 * The rule that an organization always keeps an organization-level owner, for every path that
 * takes owner grants away (removing or changing a role, removing a member). The caller holds the
 * organization's lock, so two removals can't both see the other's owner still there.
 */
export async function requireOwnerRemains(
  repos: Repositories,
  db: Db,
  organizationId: string,
  /** The identity losing its organization-level owner grant. */
  leavingIdentityId: string,
  /** Whether the same change makes someone an organization-level owner. */
  ownerAdded = false,
): Promise<void> {
  if (ownerAdded) return;
  const owners = await repos.authorizations.listOrganizationOwners(db, organizationId);
  if (owners.includes(leavingIdentityId) && owners.every((owner) => owner === leavingIdentityId)) {
    throw failedPrecondition(
      'the organization would be left without an owner; make someone else owner first',
    );
  }
}
