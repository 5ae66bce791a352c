const UNITS = ['B', 'kB', 'MB', 'GB', 'TB'] as const;

/** The unit a size is best shown in (decimal units, as file sizes usually are) and its divisor. */
function unitOf(bytes: number): { unit: string; divisor: number } {
  let exponent = 0;
  while (exponent < UNITS.length - 1 && bytes >= 1000 ** (exponent + 1) * 0.99995) exponent++;
  return { unit: UNITS[exponent] ?? 'B', divisor: 1000 ** exponent };
}

/** `bytes` in the unit's number, one decimal unless it is bytes. */
const numberIn = (bytes: number, divisor: number) =>
  divisor === 1 ? String(bytes) : (bytes / divisor).toFixed(1);

/** Bytes for people: `512 B`, `1.2 MB`. */
export function sizeOf(bytes: number): string {
  const { unit, divisor } = unitOf(bytes);
  return `${numberIn(bytes, divisor)} ${unit}`;
}

/**
 * A one-line progress bar rewritten in place with `\r` (`uploading 45% (1.2/2.6 MB)`), drawn only
 * when `enabled` (on a terminal): otherwise every method does nothing.
 */
export class Progress {
  private done = 0;
  private shownPercent = -1;
  private lastLength = 0;

  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly write: (s: string) => void,
    private readonly enabled: boolean,
  ) {}

  /** `count` more bytes have gone; the line is redrawn when the percentage changes. */
  add(count: number): void {
    this.done += count;
    if (!this.enabled) return;
    const percent = this.total === 0 ? 100 : Math.min(100, Math.floor((this.done * 100) / this.total));
    if (percent === this.shownPercent) return;
    this.shownPercent = percent;
    const { unit, divisor } = unitOf(this.total);
    this.draw(
      `${this.label} ${percent}% (${numberIn(this.done, divisor)}/${numberIn(this.total, divisor)} ${unit})`,
    );
  }

  /** Ends the bar: its line is cleared, so what follows starts on a clean line. */
  finish(): void {
    if (!this.enabled || this.shownPercent < 0) return;
    this.draw('');
    this.write('\r');
    this.shownPercent = -1;
    this.lastLength = 0;
  }

  private draw(line: string): void {
    this.write(`\r${line.padEnd(this.lastLength)}`);
    this.lastLength = line.length;
  }
}
