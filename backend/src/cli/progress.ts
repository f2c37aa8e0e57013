/** A single progress line on stderr, shown only once a run has taken a couple of seconds. */
export class Progress {
  private readonly startedAt = Date.now();
  private shown = false;
  private lastAt = 0;

  constructor(private readonly label: string, private readonly quiet = false) {}

  update(text: string): void {
    const now = Date.now();
    if (this.quiet || now - this.startedAt < 2_000 || now - this.lastAt < 500) return;
    this.lastAt = now;
    this.shown = true;
    const line = `${this.label}: ${text} (${((now - this.startedAt) / 1000).toFixed(1)} s)`;
    process.stderr.write(process.stderr.isTTY ? `\r\x1b[K${line}` : `${line}\n`);
  }

  done(): void {
    if (this.shown && process.stderr.isTTY) process.stderr.write('\n');
  }

  elapsedMs(): number {
    return Date.now() - this.startedAt;
  }
}
