// A progress bar on a terminal; plain lines (one per tenth) when the output is not a TTY.
import type { EpochRecord, TrainHooks } from '@seed/runtime';

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

/** One line per epoch: each term's loss, the test accuracy when measured, the speed. */
export function describeEpoch(r: EpochRecord): string {
  const loss = Object.entries(r.loss).map(([k, v]) => `${k} loss ${v!.toFixed(4)}`).join(', ');
  const accuracy = typeof r.testAccuracy === 'number' ? `, test accuracy ${(r.testAccuracy * 100).toFixed(2)}%` : '';
  return `${r.phase} epoch ${r.epoch}: ${loss}${accuracy} (${r.imagesPerSecond.toFixed(0)} img/s, ${r.seconds.toFixed(1)} s)`;
}

/** Hooks for trainModel: a bar while an epoch runs, its line when it ends (`prefix` names the run, e.g. a round). */
export function trainingProgress(prefix = '', onEpoch?: (record: EpochRecord) => void): TrainHooks {
  const bar = new ProgressBar();
  return {
    onProgress: (p) => bar.update(`${prefix}${p.phase} ${p.epoch}/${p.epochs}`, p.step / p.steps, `${p.imagesPerSecond.toFixed(0)} img/s`),
    onEpoch: (r) => {
      bar.done(`${prefix}${describeEpoch(r)}`);
      onEpoch?.(r);
    },
  };
}
