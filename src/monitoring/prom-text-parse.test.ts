import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parsePrometheusText } from './prom-text-parse.js';

const GOOD = `# HELP up_total Things, with a \\\\ backslash\\nand a newline.
# TYPE up_total counter
up_total{a="x",b="q\\"uote\\\\d\\n"} 3
up_total{a="y"} 1.5e3 1700000000000

# TYPE lat histogram
# HELP lat Latency.
lat_bucket{route="/a",le="0.1"} 1
lat_bucket{route="/a",le="+Inf"} 2
lat_sum{route="/a"} 0.3
lat_count{route="/a"} 2
# a plain comment
# TYPE g gauge
# HELP g A gauge.
g NaN
g{x="1",} -Inf
`;

describe('Prometheus text parser', () => {
  it('parses families, labels, escapes, special values and timestamps', () => {
    const f = parsePrometheusText(GOOD);
    assert.deepEqual([...f.keys()], ['up_total', 'lat', 'g']);
    const up = f.get('up_total')!;
    assert.equal(up.type, 'counter');
    assert.equal(up.help, 'Things, with a \\ backslash\nand a newline.');
    assert.deepEqual(up.samples[0]!.labels, { a: 'x', b: 'q"uote\\d\n' });
    assert.equal(up.samples[1]!.value, 1500);
    assert.equal(up.samples[1]!.timestamp, 1700000000000);
    assert.equal(f.get('lat')!.samples.length, 4);
    assert.ok(Number.isNaN(f.get('g')!.samples[0]!.value));
    assert.equal(f.get('g')!.samples[1]!.value, Number.NEGATIVE_INFINITY);
  });

  it('reads values as Go ParseFloat does (prom-client writes NaN as "Nan")', () => {
    const f = parsePrometheusText(
      '# TYPE a gauge\na{x="1"} Nan\na{x="2"} -inf\na{x="3"} +Infinity\na{x="4"} .5e-3',
    );
    const v = f.get('a')!.samples.map((s) => s.value);
    assert.ok(Number.isNaN(v[0]));
    assert.deepEqual(v.slice(1), [Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY, 0.0005]);
  });

  const bad: [string, string, RegExp][] = [
    ['invalid metric name', '0abc 1', /invalid metric name/],
    ['invalid value', 'a 1x', /invalid value/],
    ['missing value', 'a{b="c"}', /expected a value/],
    ['bad escape', 'a{b="\\t"} 1', /invalid escape/],
    ['unterminated', 'a{b="c} 1', /unterminated|expected/],
    ['duplicate label', 'a{b="1",b="2"} 1', /given twice/],
    ['reserved label', 'a{__x="1"} 1', /invalid label name/],
    ['duplicate series', 'a{b="1"} 1\na{b="1"} 2', /duplicate series/],
    ['two TYPEs', '# TYPE a gauge\n# TYPE a gauge\na 1', /second TYPE/],
    ['two HELPs', '# HELP a x\n# HELP a y\na 1', /second HELP/],
    ['unknown type', '# TYPE a thing\na 1', /unknown type/],
    ['TYPE after samples', 'a 1\n# TYPE a gauge', /after its samples/],
    ['split group', '# TYPE a gauge\na{x="1"} 1\n# TYPE b gauge\nb 1\na{x="2"} 2', /not in one group/],
    ['negative counter', '# TYPE a_total counter\na_total -1', /counter/],
    ['bucket without le', '# TYPE h histogram\nh_bucket 1\nh_sum 1\nh_count 1', /without "le"/],
    [
      'non-cumulative buckets',
      '# TYPE h histogram\nh_bucket{le="1"} 3\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 2',
      /not cumulative/,
    ],
    ['no +Inf', '# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1', /no \+Inf/],
    [
      '+Inf differs from count',
      '# TYPE h histogram\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 2',
      /differs from _count/,
    ],
    ['sample that does not fit its type', '# TYPE g gauge\ng_bucket{le="1"} 1\n# HELP x y\ng 1', /./],
  ];
  for (const [what, text, err] of bad) {
    it(`rejects: ${what}`, () => assert.throws(() => parsePrometheusText(text), err));
  }
});
