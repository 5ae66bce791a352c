import { DomainError } from '../domain/errors.js';
import type { InviteSummary, MemberService } from '../services/member-service.js';
import type { AnyRequest } from './http-front.js';
import type { Logger } from '../domain/logger.js';
import { httpFailure, type StatusOverrides } from './http-errors.js';
import type { HttpRoute } from './http-replies.js';

const PATH = /^\/invite\/([A-Za-z0-9_-]{1,128})$/;
/** Largest form body accepted, in bytes. */
const MAX_FORM_BYTES = 16 * 1024;

/**
 * The page answers a refused form with 400 whatever the domain error's kind (the form again, with
 * the message); an unknown or used invitation is 404.
 */
const INVITE_STATUSES: StatusOverrides = {
  invalid_argument: 400,
  unauthenticated: 400,
  permission_denied: 400,
  already_exists: 400,
  failed_precondition: 400,
  resource_exhausted: 400,
};

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} - Flotilla</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}
label,input,button{display:block;margin:.5rem 0}.error{color:#b00020}</style></head>
<body><h1>${escapeHtml(title)}</h1>
${body}
</body></html>
`;
}

function form(invite: InviteSummary, error?: string): string {
  const password = invite.needsPassword
    ? `<label for="password">Choose a password for ${escapeHtml(invite.email)}</label>
<input id="password" name="password" type="password" autocomplete="new-password" minlength="8" required>`
    : `<p>You will join as ${escapeHtml(invite.email)}, with your existing password.</p>`;
  return page(
    `Join ${invite.organizationName}`,
    `<p>${escapeHtml(invite.email)} is invited to the organization <strong>${escapeHtml(invite.organizationName)}</strong>.</p>
${error ? `<p class="error">${escapeHtml(error)}</p>` : ''}
<form method="post">
${password}
<button type="submit">Accept the invitation</button>
</form>`,
  );
}

function readForm(req: AnyRequest): Promise<URLSearchParams> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_FORM_BYTES) {
        reject(new DomainError('invalid_argument', 'the form is too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(new URLSearchParams(Buffer.concat(chunks).toString('utf8'))));
    req.on('error', reject);
  });
}

/**
 * `GET /invite/<token>`: a small page naming the organization, asking for a password when the
 * invited email has no user yet; `POST /invite/<token>` (form field `password`) accepts it.
 */
export function invitePage(members: MemberService, logger: Logger): HttpRoute {
  return (req, res) => {
    const match = PATH.exec((req.url ?? '').split('?')[0] ?? '');
    const token = match?.[1];
    if (!token || (req.method !== 'GET' && req.method !== 'POST')) return false;
    const reply = (status: number, html: string) => {
      res.writeHead(status, {
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-store',
        'referrer-policy': 'no-referrer',
        'x-frame-options': 'DENY',
      });
      res.end(html);
    };
    const fail = (error: unknown, invite?: InviteSummary) => {
      const failure = httpFailure(error, logger, 'invite page', INVITE_STATUSES);
      if (failure.kind === 'not_found') {
        reply(
          failure.status,
          page('Invitation not found', '<p>This invitation does not exist or was already used.</p>'),
        );
      } else if (failure.kind !== undefined) {
        reply(
          failure.status,
          invite
            ? form(invite, failure.message)
            : page('Invitation refused', `<p class="error">${escapeHtml(failure.message)}</p>`),
        );
      } else {
        reply(
          failure.status,
          page(
            'Something went wrong',
            `<p>The invitation could not be processed. Try again later.</p>
<p>${escapeHtml(failure.message)}</p>`,
          ),
        );
      }
    };
    void (async () => {
      let invite: InviteSummary | undefined;
      try {
        invite = await members.inviteForToken(token);
        if (req.method === 'GET') {
          reply(200, form(invite));
          return;
        }
        const fields = await readForm(req);
        const accepted = await members.acceptInvite(token, fields.get('password') ?? undefined);
        reply(
          200,
          page(
            'Invitation accepted',
            `<p>${escapeHtml(accepted.email)} is now a member of <strong>${escapeHtml(accepted.organizationName)}</strong>. Log in with this email and your password.</p>`,
          ),
        );
      } catch (error) {
        fail(error, invite);
      }
    })();
    return true;
  };
}
