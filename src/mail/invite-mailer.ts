import nodemailer from 'nodemailer';

/** What an invitee is told: where to accept, and into which organization. */
export interface InviteMessage {
  to: string;
  organizationName: string;
  link: string;
}

/** Sends invite mails. */
export interface InviteMailer {
  send(message: InviteMessage): Promise<void>;
  close(): void;
}

/** Where the link went: mailed, or written to the server's log. */
export type InviteOutcome = 'mailed' | 'logged';

/**
 * Hands an invite's link to its invitee: by mail when a mailer is configured and the caller asked
 * for mail, else (or when sending fails) into the server's log, so that nothing fails for want of
 * mail. `flotilla invite-link` prints the same link later.
 */
export type InviteDelivery = (message: InviteMessage, sendEmail: boolean) => Promise<InviteOutcome>;

/** The part of the server's logger a delivery needs. */
interface LinkLog {
  info(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** An SMTP mailer (nodemailer) for a URL such as `smtp://user:pass@host:587` or `smtps://host`. */
export function createSmtpInviteMailer(smtpUrl: string, from: string): InviteMailer {
  const transport = nodemailer.createTransport(smtpUrl);
  return {
    async send({ to, organizationName, link }) {
      await transport.sendMail({
        from,
        to,
        subject: `You are invited to ${organizationName} on Flotilla`,
        text:
          `You have been invited to the organization "${organizationName}" on Flotilla.\n\n` +
          `Accept the invitation here:\n${link}\n\n` +
          `If you did not expect this invitation, ignore this mail.\n`,
      });
    },
    close: () => transport.close(),
  };
}

export function inviteDelivery(mailer: InviteMailer | undefined, log: LinkLog): InviteDelivery {
  return async (message, sendEmail) => {
    const fields = { email: message.to, organization: message.organizationName, link: message.link };
    if (!mailer || !sendEmail) {
      log.info('organization invite created; no mail sent, give the invitee this link', fields);
      return 'logged';
    }
    try {
      await mailer.send(message);
      return 'mailed';
    } catch (error) {
      log.error('could not mail an organization invite; give the invitee this link', {
        ...fields,
        cause: error instanceof Error ? error.message : String(error),
      });
      return 'logged';
    }
  };
}

/** A delivery that only drops the link (the CLI's services send nothing). */
export const discardInvites: InviteDelivery = () => Promise.resolve('logged');
