/**
 * Notices what monitors record on their own (an exit, a monitor that died): an inotify watch
 * per running instance's run directory, plus a periodic sweep in case a notification is lost.
 * It only says "look at this instance"; the driver reads the files and decides. A watch keeps
 * the process alive (someone awaits that instance's end) until the end is seen or close().
 */
import { type FSWatcher, watch } from 'node:fs';

export class RunDirWatcher {
  private readonly watchers = new Map<string, FSWatcher>();
  private readonly timer: NodeJS.Timeout;

  /** `check(id)` is called on changes to a watched instance's run dir and every `periodMs`. */
  constructor(
    private readonly check: (id: string) => void,
    periodMs = 1000,
  ) {
    this.timer = setInterval(() => {
      for (const id of this.watchers.keys()) this.check(id);
    }, periodMs);
    this.timer.unref();
  }

  /** Starts watching `dir` for `id` (no-op when already watched). */
  watch(id: string, dir: string): void {
    if (this.watchers.has(id)) return;
    try {
      const w = watch(dir, (_event, name) => {
        if (name === 'exit' || name === 'monitor') this.check(id);
      });
      w.on('error', () => this.unwatch(id));
      this.watchers.set(id, w);
    } catch {
      // the directory is gone: nothing left to notice
    }
  }

  unwatch(id: string): void {
    this.watchers.get(id)?.close();
    this.watchers.delete(id);
  }

  close(): void {
    clearInterval(this.timer);
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
  }
}
