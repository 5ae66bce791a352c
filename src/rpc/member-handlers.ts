import { appApi } from '@viamrobotics/sdk';
import type { Invite, Member, MemberService } from '../services/member-service.js';
import type { AppHandlers } from './app-service-impl.js';
import { callerOf } from './call-context.js';
import { timestamp } from './wire-values.js';

const memberToProto = (member: Member) =>
  new appApi.OrganizationMember({
    userId: member.userId,
    emails: [member.email],
    dateAdded: timestamp(member.dateAdded),
  });

const inviteToProto = (invite: Invite) =>
  new appApi.OrganizationInvite({
    organizationId: invite.organizationId,
    email: invite.email,
    createdOn: timestamp(invite.createdOn),
    authorizations: invite.authorizations.map((a) => ({
      authorizationType: 'role',
      authorizationId: `${a.resourceType}_${a.role}`,
      resourceType: a.resourceType,
      resourceId: a.resourceId,
      organizationId: a.organizationId,
      identityId: '',
      identityType: '',
    })),
  });

/** AppService methods about an organization's members and invites. */
export function memberHandlers(members: MemberService): AppHandlers {
  return {
    async listOrganizationMembers(req, ctx) {
      const result = await members.list(callerOf(ctx), req.organizationId);
      return {
        organizationId: req.organizationId,
        members: result.members.map(memberToProto),
        invites: result.invites.map(inviteToProto),
      };
    },
    async createOrganizationInvite(req, ctx) {
      const invite = await members.createInvite(
        callerOf(ctx),
        req.organizationId,
        req.email,
        req.authorizations,
        req.sendEmailInvite,
      );
      return { invite: inviteToProto(invite) };
    },
    async updateOrganizationInviteAuthorizations(req, ctx) {
      const invite = await members.updateInviteAuthorizations(
        callerOf(ctx),
        req.organizationId,
        req.email,
        req.addAuthorizations,
        req.removeAuthorizations,
      );
      return { invite: inviteToProto(invite) };
    },
    async deleteOrganizationInvite(req, ctx) {
      await members.deleteInvite(callerOf(ctx), req.organizationId, req.email);
      return {};
    },
    async resendOrganizationInvite(req, ctx) {
      const invite = await members.resendInvite(
        callerOf(ctx),
        req.organizationId,
        req.email,
        req.sendEmailInvite,
      );
      return { invite: inviteToProto(invite) };
    },
    async deleteOrganizationMember(req, ctx) {
      await members.deleteMember(callerOf(ctx), req.organizationId, req.userId);
      return {};
    },
  };
}
