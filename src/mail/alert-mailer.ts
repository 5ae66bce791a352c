import nodemailer from 'nodemailer';
import { parseConnectionUrl } from 'nodemailer/lib/shared/index.js';

/** One alert mail: plain text. */
export interface AlertMail {
  to: string;
  subject: string;
  text: string;
}

/** Sends machine alert mails; a rejected promise is a failed attempt (retried by the outbox). */
export interface AlertMailer {
  send(mail: AlertMail): Promise<void>;
  close(): void;
}

/** Bounds of one SMTP conversation, so a stuck server fails an attempt instead of holding it. */
const SMTP_TIMEOUTS = { connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 20_000 };

/**
 * An SMTP mailer (nodemailer) for alerts over the same `FLOTILLA_SMTP_URL` as invites, such as
 * `smtp://user:pass@host:587` or `smtps://host`.
 */
export function createSmtpAlertMailer(smtpUrl: string, from: string): AlertMailer {
  // The URL's own options (`?socketTimeout=...`) win over these bounds.
  const transport = nodemailer.createTransport({ ...SMTP_TIMEOUTS, ...parseConnectionUrl(smtpUrl) });
  return {
    async send({ to, subject, text }) {
      await transport.sendMail({ from, to, subject, text });
    },
    close: () => transport.close(),
  };
}
