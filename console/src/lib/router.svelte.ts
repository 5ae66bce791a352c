/**
 * A small history router: the path names the page, the query its state (organization, tab).
 * The server answers index.html for every page path, so links can be opened and reloaded.
 */
class Router {
  path = $state(window.location.pathname);
  query = $state(new URLSearchParams(window.location.search));

  constructor() {
    window.addEventListener('popstate', () => this.sync());
  }

  private sync(): void {
    this.path = window.location.pathname;
    this.query = new URLSearchParams(window.location.search);
  }

  go(href: string, replace = false): void {
    if (replace) history.replaceState(null, '', href);
    else history.pushState(null, '', href);
    this.sync();
    window.scrollTo(0, 0);
  }

  /** The parameters of `pattern` (`/machine/:id`) if the current path matches it. */
  match(pattern: string): Record<string, string> | undefined {
    const want = pattern.split('/');
    const have = this.path.split('/');
    if (want.length !== have.length) return undefined;
    const params: Record<string, string> = {};
    for (let i = 0; i < want.length; i++) {
      const w = want[i] ?? '';
      const h = have[i] ?? '';
      if (w.startsWith(':')) params[w.slice(1)] = decodeURIComponent(h);
      else if (w !== h) return undefined;
    }
    return params;
  }
}

export const router = new Router();

/** For `<a href onclick={follow}>`: stays in the page unless a modifier key asks for a new tab. */
export function follow(event: MouseEvent): void {
  const anchor = event.currentTarget as HTMLAnchorElement;
  if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  event.preventDefault();
  router.go(anchor.getAttribute('href') ?? '/');
}
