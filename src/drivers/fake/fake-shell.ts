/**
 * A tiny interpreter for the busybox shell lines the conformance suite and the daemon tests run,
 * so the fake driver's workloads behave like real ones: `echo` (with $VAR and `>&2`), `sleep`,
 * `exit N`, `trap "..." TERM`, `cat` (stdin to stdout until EOF), `pwd`, `true`, `false`,
 * `while true; do ...; done` (runs forever). Signals follow shell rules: a trapped TERM runs its
 * handler, an ignored one does nothing, KILL always ends with 137, others with 128+N.
 * Pausing freezes the script between steps, like a frozen cgroup.
 */
import { constants } from 'node:os';

export interface ShellIo {
  stdout(text: string): void;
  stderr(text: string): void;
  /** Resolves with all of stdin once it ends (undefined: no stdin, /dev/null). */
  stdin?: () => Promise<string>;
}

type Trap = { kind: 'default' } | { kind: 'ignore' } | { kind: 'exit'; code: number };

/** One running fake process; `exit` resolves with its status. */
export class FakeShell {
  readonly exit: Promise<number>;
  private resolveExit!: (code: number) => void;
  private done = false;
  private paused = false;
  private unpause: (() => void) | undefined;
  private trap: Trap = { kind: 'default' };
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly args: readonly string[],
    private readonly env: Record<string, string>,
    private readonly cwd: string,
    private readonly io: ShellIo,
  ) {
    this.exit = new Promise((r) => {
      this.resolveExit = r;
    });
    void this.main();
  }

  get finished(): boolean {
    return this.done;
  }

  /** Delivers a signal as a shell would receive it. */
  signal(sig: NodeJS.Signals): void {
    if (this.done) return;
    const n = constants.signals[sig] ?? 15;
    if (sig === 'SIGKILL') this.finish(137);
    else if (sig === 'SIGSTOP') this.setPaused(true);
    else if (sig === 'SIGCONT') this.setPaused(false);
    else if (sig === 'SIGTERM' && this.trap.kind === 'ignore') return;
    else this.deliver(sig, n);
  }

  private deliver(sig: NodeJS.Signals, n: number): void {
    if (sig === 'SIGTERM' && this.trap.kind === 'exit') {
      const code = this.trap.code;
      // A trap runs once the current foreground step finishes (and never while frozen).
      void this.whenThawed().then(() => this.finish(code));
      return;
    }
    this.finish(128 + n);
  }

  /** Freezes or thaws the script. */
  setPaused(paused: boolean): void {
    this.paused = paused;
    if (!paused) {
      this.unpause?.();
      this.unpause = undefined;
    }
  }

  private whenThawed(): Promise<void> {
    if (!this.paused) return Promise.resolve();
    return new Promise((r) => {
      const prev = this.unpause;
      this.unpause = () => {
        prev?.();
        r();
      };
    });
  }

  private finish(code: number): void {
    if (this.done) return;
    this.done = true;
    for (const t of this.timers) clearTimeout(t);
    this.resolveExit(code);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((r) => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        r();
      }, ms);
      this.timers.add(t);
    });
  }

  private async main(): Promise<void> {
    const script =
      this.args[0] === 'sh' && this.args[1] === '-c' ? (this.args[2] ?? '') : this.args.join(' ');
    const loop = /while true; do (.*); done/.exec(script);
    const head = loop ? script.slice(0, loop.index) : script;
    let status = 0;
    for (const stmt of splitStatements(head)) {
      if (this.done) return;
      await this.whenThawed();
      status = await this.step(stmt, status);
    }
    while (loop && !this.done) {
      for (const stmt of splitStatements(loop[1]!)) {
        await this.whenThawed();
        if (this.done) return;
        await this.step(stmt, status);
      }
    }
    this.finish(status);
  }

  private async step(stmt: string, status: number): Promise<number> {
    const words = shellWords(stmt, this.env);
    const [cmd, ...rest] = words;
    switch (cmd) {
      case undefined:
        return status;
      case 'echo': {
        const toErr = rest.at(-1) === '>&2';
        const text = `${(toErr ? rest.slice(0, -1) : rest).join(' ')}\n`;
        if (toErr) this.io.stderr(text);
        else this.io.stdout(text);
        return 0;
      }
      case 'sleep':
        await this.sleep(Number(rest[0] ?? 0) * 1000);
        return 0;
      case 'exit':
        this.finish(Number(rest[0] ?? status));
        return status;
      case 'trap':
        this.trap =
          rest[0] === ''
            ? { kind: 'ignore' }
            : { kind: 'exit', code: Number(/exit (\d+)/.exec(rest[0] ?? '')?.[1] ?? 0) };
        return 0;
      case 'cat':
        if (this.io.stdin) this.io.stdout(await this.io.stdin());
        return 0;
      case 'pwd':
        this.io.stdout(`${this.cwd}\n`);
        return 0;
      case 'true':
      case 'sh':
      case '/bin/sh':
        return 0;
      case 'false':
        return 1;
      default:
        this.io.stderr(`sh: ${cmd}: not found\n`);
        return 127;
    }
  }
}

/** Splits a script at top-level semicolons and newlines (quotes respected). */
function splitStatements(script: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quote = '';
  for (const ch of script) {
    if (quote) {
      if (ch === quote) quote = '';
      cur += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      cur += ch;
    } else if (ch === ';' || ch === '\n') {
      out.push(cur.trim());
      cur = '';
    } else cur += ch;
  }
  out.push(cur.trim());
  return out.filter((s) => s.length > 0);
}

/** Splits a statement into words, removing quotes and expanding $VAR outside single quotes. */
function shellWords(stmt: string, env: Record<string, string>): string[] {
  const words: string[] = [];
  let cur: string | undefined;
  let quote = '';
  const expand = (s: string) => s.replace(/\$([A-Za-z_][A-Za-z0-9_]*)/g, (_, v: string) => env[v] ?? '');
  let i = 0;
  while (i < stmt.length) {
    const ch = stmt[i]!;
    if (quote) {
      if (ch === quote) quote = '';
      else if (quote === '"' && ch === '$') {
        const m = /^\$[A-Za-z_][A-Za-z0-9_]*/.exec(stmt.slice(i));
        if (m) {
          cur = (cur ?? '') + expand(m[0]);
          i += m[0].length;
          continue;
        }
        cur = `${cur ?? ''}$`;
      } else cur = (cur ?? '') + ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      cur = cur ?? '';
    } else if (ch === ' ' || ch === '\t') {
      if (cur !== undefined) words.push(cur);
      cur = undefined;
    } else if (ch === '$') {
      const m = /^\$[A-Za-z_][A-Za-z0-9_]*/.exec(stmt.slice(i));
      cur = (cur ?? '') + (m ? expand(m[0]) : '$');
      i += m ? m[0].length : 1;
      continue;
    } else cur = (cur ?? '') + ch;
    i++;
  }
  if (cur !== undefined) words.push(cur);
  return words;
}
