import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isUtf8 } from 'node:buffer';
import { bodyBytes, buildCorpus, entityBody, escapedBodyPieces, wikitextBody, type BodyRef } from '../../src/gen/corpus.js';
import { Prng } from '../../src/gen/prng.js';

const corpus = buildCorpus(new Prng(5, 'corpus'), 256 * 1024, 64 * 1024);

test('the corpus is valid UTF-8 pseudo-wikitext with multi-byte characters', () => {
  assert.ok(isUtf8(corpus.wikitext));
  const text = corpus.wikitext.toString('utf8');
  assert.ok(text.length < corpus.wikitext.length, 'some characters take more than one byte');
  assert.match(text, /\[\[[^\]]+\]\]/);
  assert.match(text, /^==+ .+ ==+$/m);
  assert.equal(corpus.lineStarts[0], 0);
  for (const start of corpus.lineStarts.slice(1, 50)) assert.equal(corpus.wikitext[start - 1], 0x0a);
});

test('wikitext bodies have the requested size up to a character, wrap around the corpus, and are valid UTF-8', () => {
  const prng = new Prng(9);
  for (const target of [0, 1, 7, 100, 4096, 100_000, 700_000]) {
    for (let i = 0; i < 20; i++) {
      const ref = wikitextBody(corpus, prng, target);
      const bytes = bodyBytes(corpus, ref);
      assert.equal(bytes.length, ref.kind === 'wikitext' ? ref.length : -1);
      assert.ok(bytes.length >= target && bytes.length <= target + 3, `target ${target}, got ${bytes.length}`);
      assert.ok(isUtf8(bytes), `target ${target}`);
      assert.deepEqual(bodyBytes(corpus, ref), bytes, 'a reference always gives the same bytes');
    }
  }
});

test('entity bodies are valid JSON of about the requested size', () => {
  const prng = new Prng(10);
  for (const target of [300, 2_000, 20_000]) {
    const bytes = bodyBytes(corpus, entityBody(corpus, prng, 'item', 'Q42', target));
    const entity = JSON.parse(bytes.toString('utf8'));
    assert.equal(entity.id, 'Q42');
    assert.equal(entity.type, 'item');
    assert.ok(bytes.length >= target * 0.5 && bytes.length <= target + 1_000, `target ${target}, got ${bytes.length}`);
  }
  // Larger than the statement corpus: capped at it, still valid JSON.
  const capped = bodyBytes(corpus, entityBody(corpus, prng, 'mediainfo', 'M1', 10 * 1024 * 1024));
  assert.ok(capped.length <= corpus.statements.length + 1_000);
  JSON.parse(capped.toString('utf8'));
});

test('escaped body pieces are exactly what JSON.stringify writes between the quotes', () => {
  const prng = new Prng(12);
  const refs: BodyRef[] = [
    { kind: 'literal', text: '#REDIRECT [[Zürich "old" \\ path]]\n\t\u0001' },
    { kind: 'wikitext', start: corpus.wikitext.length - 10, length: 2 * corpus.wikitext.length + 25 },
    { kind: 'wikitext', start: 0, length: 0 },
  ];
  for (const target of [1, 50, 3_000, 90_000, 400_000]) {
    for (let i = 0; i < 25; i++) refs.push(wikitextBody(corpus, prng, target));
    refs.push(entityBody(corpus, prng, 'item', `Q${target}`, target));
  }
  let withEscapes = 0;
  for (const ref of refs) {
    const expected = Buffer.from(JSON.stringify(bodyBytes(corpus, ref).toString('utf8')).slice(1, -1), 'utf8');
    const actual = Buffer.concat(escapedBodyPieces(corpus, ref));
    assert.ok(actual.equals(expected), `${JSON.stringify(ref)}`);
    if (actual.length > bodyBytes(corpus, ref).length) withEscapes++;
  }
  assert.ok(withEscapes > 50, 'most bodies contain characters JSON escapes');
});
