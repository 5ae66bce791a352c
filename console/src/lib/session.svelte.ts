/**
 * Who is signed in, for this browser tab's session: the access token and a label, kept in
 * sessionStorage so a reload stays signed in and closing the browser signs out.
 */
const TOKEN = 'flotilla.token';
const LABEL = 'flotilla.label';

class Session {
  token = $state<string | undefined>(sessionStorage.getItem(TOKEN) ?? undefined);
  label = $state<string>(sessionStorage.getItem(LABEL) ?? '');
  /** Why the last session ended, shown on the sign-in page. */
  endedBecause = $state<string | undefined>(undefined);

  start(token: string, label: string): void {
    sessionStorage.setItem(TOKEN, token);
    sessionStorage.setItem(LABEL, label);
    this.token = token;
    this.label = label;
    this.endedBecause = undefined;
  }

  end(reason?: string): void {
    sessionStorage.removeItem(TOKEN);
    sessionStorage.removeItem(LABEL);
    this.token = undefined;
    this.label = '';
    this.endedBecause = reason;
  }
}

export const session = new Session();
