/**
 * A strict parser of the Prometheus text exposition format 0.0.4, written from the format's
 * specification (not from prom-client) so tests can check what the daemon serves: metric and
 * label name syntax, label value and HELP escapes, one HELP and one TYPE per family and both
 * before its samples, each family's lines in one group, no duplicate series, and the histogram
 * rules (an `le` label on every bucket, cumulative buckets, `+Inf` equal to `_count`, `_sum`).
 * Any violation throws an Error naming the line.
 */

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface Sample {
  /** The sample's own name, e.g. `x_bucket` for a histogram family `x`. */
  name: string;
  labels: Record<string, string>;
  value: number;
  timestamp?: number;
}

export interface Family {
  name: string;
  help?: string;
  type?: MetricType;
  samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

/** Parses `text` into families in the order they appear; throws on the first violation. */
export function parsePrometheusText(text: string): Map<string, Family> {
  const st = new ParseState();
  text.split('\n').forEach((line, i) => {
    try {
      st.line(line);
    } catch (err) {
      throw new Error(`line ${i + 1}: ${(err as Error).message}: ${JSON.stringify(line)}`);
    }
  });
  for (const f of st.families.values()) checkFamily(f);
  return st.families;
}

class ParseState {
  readonly families = new Map<string, Family>();
  private current: Family | undefined;
  private readonly closed = new Set<string>();
  private readonly seen = new Set<string>();

  line(line: string): void {
    if (line.trim() === '') return;
    if (line.startsWith('#')) {
      this.comment(line);
      return;
    }
    const s = parseSample(line);
    const fam = this.familyOfSample(s.name);
    this.enter(fam);
    const key = `${s.name}{${Object.entries(s.labels)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
      .join(',')}}`;
    if (this.seen.has(key)) throw new Error(`duplicate series ${key}`);
    this.seen.add(key);
    fam.samples.push(s);
  }

  private comment(line: string): void {
    const m = /^#\s+(HELP|TYPE)\s+(\S+)(?:\s(.*))?$/.exec(line);
    if (!m) return; // a plain comment
    const [, kind, name, rest = ''] = m as unknown as [string, string, string, string | undefined];
    if (!METRIC_NAME.test(name)) throw new Error(`invalid metric name "${name}"`);
    const fam = this.family(name);
    if (fam.samples.length > 0) throw new Error(`${kind} for "${name}" after its samples`);
    this.enter(fam);
    if (kind === 'HELP') {
      if (fam.help !== undefined) throw new Error(`second HELP for "${name}"`);
      fam.help = unescapeHelp(rest);
    } else {
      const type = rest.trim();
      if (fam.type !== undefined) throw new Error(`second TYPE for "${name}"`);
      if (!TYPES.has(type)) throw new Error(`unknown type "${type}"`);
      fam.type = type as MetricType;
    }
  }

  private family(name: string): Family {
    let f = this.families.get(name);
    if (!f) {
      f = { name, samples: [] };
      this.families.set(name, f);
    }
    return f;
  }

  /** The family a sample belongs to: its own name, or a histogram/summary with its suffix. */
  private familyOfSample(name: string): Family {
    const own = this.families.get(name);
    if (own) return own;
    const m = /^(.*)_(bucket|sum|count)$/.exec(name);
    const base = m ? this.families.get(m[1]!) : undefined;
    if (base && (base.type === 'histogram' || (base.type === 'summary' && m![2] !== 'bucket'))) return base;
    return this.family(name);
  }

  /** Moves to `fam`, refusing to come back to a family whose group already ended. */
  private enter(fam: Family): void {
    if (this.current === fam) return;
    if (this.closed.has(fam.name)) throw new Error(`lines of "${fam.name}" are not in one group`);
    if (this.current) this.closed.add(this.current.name);
    this.current = fam;
  }
}

function parseSample(line: string): Sample {
  const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{)?/.exec(line);
  if (!m) throw new Error('invalid metric name');
  const name = m[1]!;
  let pos = name.length;
  let labels: Record<string, string> = {};
  if (m[2]) [labels, pos] = parseLabels(line, pos + 1);
  const rest = line.slice(pos);
  const parts = /^[ \t]+(\S+)(?:[ \t]+(-?\d+))?[ \t]*$/.exec(rest);
  if (!parts) throw new Error('expected a value (and optional timestamp) after the name and labels');
  const value = parseValue(parts[1]!);
  return { name, labels, value, ...(parts[2] ? { timestamp: Number(parts[2]) } : {}) };
}

/** Parses `name="value",...}` from `pos`; returns the labels and the position after `}`. */
function parseLabels(line: string, pos: number): [Record<string, string>, number] {
  const labels: Record<string, string> = {};
  for (;;) {
    if (line[pos] === '}') return [labels, pos + 1];
    const nm = /^[ \t]*([a-zA-Z_][a-zA-Z0-9_]*)[ \t]*=[ \t]*"/.exec(line.slice(pos));
    if (!nm) throw new Error(`invalid label at column ${pos + 1}`);
    const key = nm[1]!;
    if (!LABEL_NAME.test(key) || key.startsWith('__')) throw new Error(`invalid label name "${key}"`);
    if (key in labels) throw new Error(`label "${key}" given twice`);
    pos += nm[0].length;
    let value = '';
    for (;;) {
      const c = line[pos++];
      if (c === undefined) throw new Error('unterminated label value');
      if (c === '"') break;
      if (c === '\\') {
        const e = line[pos++];
        if (e === 'n') value += '\n';
        else if (e === '\\' || e === '"') value += e;
        else throw new Error(`invalid escape "\\${e ?? ''}" in a label value`);
      } else value += c;
    }
    labels[key] = value;
    const sep = /^[ \t]*(,|\})/.exec(line.slice(pos));
    if (!sep) throw new Error(`expected "," or "}" at column ${pos + 1}`);
    pos += sep[0].length;
    if (sep[1] === '}') return [labels, pos];
  }
}

/** A float as Go's strconv.ParseFloat reads it (the format says so): NaN and Inf in any case. */
function parseValue(s: string): number {
  if (/^nan$/i.test(s)) return Number.NaN;
  const inf = /^([+-]?)inf(inity)?$/i.exec(s);
  if (inf) return inf[1] === '-' ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s)) throw new Error(`invalid value "${s}"`);
  return Number(s);
}

function unescapeHelp(s: string): string {
  return s.replace(/\\(.)/g, (all, c: string) => {
    if (c === 'n') return '\n';
    if (c === '\\') return '\\';
    throw new Error(`invalid escape "${all}" in HELP`);
  });
}

/** The rules that need a whole family: sample names per type, counters, histogram buckets. */
function checkFamily(f: Family): void {
  for (const s of f.samples) {
    const suffix = s.name.slice(f.name.length);
    const allowed =
      f.type === 'histogram'
        ? ['_bucket', '_sum', '_count']
        : f.type === 'summary'
          ? ['', '_sum', '_count']
          : [''];
    if (!allowed.includes(suffix)) throw new Error(`sample "${s.name}" does not fit ${f.type} "${f.name}"`);
    if (f.type === 'counter' && !(s.value >= 0)) throw new Error(`counter "${s.name}" is ${s.value}`);
  }
  if (f.type === 'histogram') checkHistogram(f);
}

function checkHistogram(f: Family): void {
  const groups = new Map<string, { buckets: [number, number][]; sum?: number; count?: number }>();
  for (const s of f.samples) {
    const { le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    const g = groups.get(key) ?? { buckets: [] };
    groups.set(key, g);
    if (s.name.endsWith('_bucket')) {
      if (le === undefined) throw new Error(`bucket of "${f.name}" without "le"`);
      g.buckets.push([parseValue(le), s.value]);
    } else if (le !== undefined) throw new Error(`"${s.name}" has an "le" label`);
    else if (s.name.endsWith('_sum')) g.sum = s.value;
    else g.count = s.value;
  }
  for (const [key, g] of groups) {
    const b = g.buckets.sort((x, y) => x[0] - y[0]);
    for (let i = 1; i < b.length; i++) {
      if (b[i]![1] < b[i - 1]![1]) throw new Error(`buckets of "${f.name}" ${key} are not cumulative`);
    }
    const inf = b.find(([le]) => le === Number.POSITIVE_INFINITY);
    if (!inf) throw new Error(`histogram "${f.name}" ${key} has no +Inf bucket`);
    if (g.count === undefined || g.sum === undefined)
      throw new Error(`histogram "${f.name}" ${key} lacks _count or _sum`);
    if (inf[1] !== g.count) throw new Error(`histogram "${f.name}" ${key}: +Inf bucket differs from _count`);
  }
}
