// A progress bar on a terminal; plain lines (one per tenth) when the output is not a TTY.
export class ProgressBar {
  private lastTenth = -1;
  private readonly tty: boolean;

  constructor(private readonly stream: NodeJS.WriteStream = process.stderr) {
    this.tty = !!stream.isTTY;
  }

  update(label: string, fraction: number, detail = ''): void {
    const clamped = Math.min(1, Math.max(0, fraction));
    if (this.tty) {
      const width = 28;
      const filled = Math.round(clamped * width);
      this.stream.write(`\r${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(clamped * 100).toFixed(0).padStart(3)}% ${detail}\x1b[K`);
    } else {
      const tenth = Math.floor(clamped * 10);
      if (tenth !== this.lastTenth) {
        this.lastTenth = tenth;
        this.stream.write(`${label} ${(clamped * 100).toFixed(0)}% ${detail}\n`);
      }
    }
  }

  /** Ends the bar's line (a terminal keeps the final state on screen). */
  done(line?: string): void {
    if (this.tty) this.stream.write('\r\x1b[K');
    this.lastTenth = -1;
    if (line) this.stream.write(`${line}\n`);
  }
}
