/**
 * Finding, in JSON text, the place a server error names: messages about a config start with a
 * path such as `components[0].attributes["my key"]: must be ...` (src/domain/config/json.ts).
 */

export type PathStep = string | number;

/** The message split into its path and the rest, when it starts with one. */
export function splitPathMessage(
  message: string,
): { path: PathStep[]; pathText: string; detail: string } | undefined {
  const match =
    /^((?:[A-Za-z_$][\w$-]*|\[(?:\d+|"(?:[^"\\]|\\.)*")\])(?:\.[A-Za-z_$][\w$-]*|\[(?:\d+|"(?:[^"\\]|\\.)*")\])*): (.+)$/s.exec(
      message,
    );
  if (!match?.[1] || !match[2]) return undefined;
  const pathText = match[1];
  const path: PathStep[] = [];
  for (const step of pathText.matchAll(/([A-Za-z_$][\w$-]*)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]/g)) {
    if (step[1] !== undefined) path.push(step[1]);
    else if (step[2] !== undefined) path.push(Number(step[2]));
    else if (step[3] !== undefined) path.push(JSON.parse(step[3]) as string);
  }
  // `config: ...` names the whole document.
  if (path.length === 1 && path[0] === 'config') path.length = 0;
  return { path, pathText, detail: match[2] };
}

/**
 * The range of the value at `path` in `text` (valid JSON), or of the deepest part of the path
 * that exists; undefined if the text is not JSON.
 */
export function locate(text: string, path: readonly PathStep[]): { from: number; to: number } | undefined {
  let i = 0;
  const ws = () => {
    while (i < text.length && /\s/.test(text[i] ?? '')) i++;
  };
  const string = (): string => {
    const start = i;
    i++;
    while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  /** Skips a value, or descends into it along path[depth..]; returns the best range found. */
  const value = (depth: number): { from: number; to: number } => {
    ws();
    const from = i;
    const want = path[depth];
    const ch = text[i];
    let found: { from: number; to: number } | undefined;
    if (ch === '{') {
      i++;
      ws();
      while (text[i] !== '}') {
        ws();
        const keyFrom = i;
        const key = string();
        ws();
        i++; // ':'
        const hit = typeof want === 'string' && key === want && found === undefined;
        const inner = value(hit ? depth + 1 : path.length + 1);
        if (hit) found = depth + 1 === path.length ? { from: keyFrom, to: inner.to } : inner;
        ws();
        if (text[i] === ',') i++;
        ws();
      }
      i++;
    } else if (ch === '[') {
      i++;
      ws();
      let index = 0;
      while (text[i] !== ']') {
        const hit = typeof want === 'number' && index === want;
        const inner = value(hit ? depth + 1 : path.length + 1);
        if (hit) found = inner;
        ws();
        if (text[i] === ',') i++;
        ws();
        index++;
      }
      i++;
    } else if (ch === '"') {
      string();
    } else {
      while (i < text.length && /[^\s,\]}]/.test(text[i] ?? '')) i++;
    }
    return depth < path.length && found ? found : { from, to: i };
  };
  try {
    JSON.parse(text);
  } catch {
    return undefined;
  }
  return value(0);
}
