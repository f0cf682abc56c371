import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seededRandom } from '../domain/seeded-random.js';
import { QueryParams } from './query-params.js';

const NAMES = [
  'ad',
  'imp',
  'ts',
  'sig',
  'campaign',
  'a',
  'a b',
  'é',
  '',
  '=',
  'a=b',
  'a&b',
  '\uD800',
  '\uFFFD',
  '%61',
];

function assertLikeUrlSearchParams(raw: string, names: readonly string[] = NAMES): void {
  const expected = new URLSearchParams(raw);
  for (const name of names) {
    assert.equal(
      new QueryParams(raw).get(name),
      expected.get(name),
      `get(${JSON.stringify(name)}) of ${JSON.stringify(raw)}`,
    );
  }
}

describe('QueryParams', () => {
  const table = [
    '',
    'ad=7&imp=imp_abcdefgh&ts=1795000000&sig=' + 'a'.repeat(43),
    'ad=1&ad=2',
    'ad&imp=x',
    'ad=&imp',
    '&&ad=3&&',
    '=x&ad=4',
    'adx=1&ad=2',
    'xad=1',
    'ad==1',
    'ad=1=2',
    'a%64=5',
    'ad=%37',
    'ad=7+8',
    'a+b=1&a b=2',
    'ad=%ZZ&imp=%',
    'ad=%C3%A9&é=%C3',
    'é=1',
    '\uD800=1&\uFFFD=2',
    'ad=\uDC00',
    'sig=abc&sig',
    'a=b=c&a=b',
    'a&b=1',
    '?ad=1',
    '??ad=1&?imp=2',
    'ad=1#frag',
    'ad=1;imp=2',
  ];
  for (const raw of table)
    it(`reads ${JSON.stringify(raw)} as URLSearchParams does`, () => assertLikeUrlSearchParams(raw));

  it('reads random query strings as URLSearchParams does', () => {
    const random = seededRandom(20_240_601);
    const pieces = [
      '?',
      'ad',
      'imp',
      'ts',
      'sig',
      'a',
      '=',
      '&',
      '&',
      '=',
      '%',
      '%4',
      '%41',
      '%zz',
      '+',
      ' ',
      'é',
      '\uD800',
      '1',
      'x',
    ];
    for (let i = 0; i < 5_000; i++) {
      let raw = '';
      const count = Math.floor(random() * 12);
      for (let j = 0; j < count; j++) raw += pieces[Math.floor(random() * pieces.length)];
      assertLikeUrlSearchParams(raw);
    }
  });

  it('behaves as URLSearchParams for everything else, including after changes', () => {
    const raw = 'b=2&a=1&a=3';
    const q = new QueryParams(raw);
    const expected = new URLSearchParams(raw);
    assert.deepEqual([...q], [...expected]);
    assert.deepEqual(q.getAll('a'), ['1', '3']);
    assert.equal(q.has('b'), true);
    assert.equal(q.size, 3);
    q.set('a', '9');
    q.append('c', 'x y');
    assert.equal(q.get('a'), '9');
    assert.equal(q.toString(), 'b=2&a=9&c=x+y');
    q.delete('b');
    q.sort();
    assert.deepEqual([...q.keys()], ['a', 'c']);
    assert.deepEqual([...q.values()], ['9', 'x y']);
  });
});
