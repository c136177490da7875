// Escaping and the rule for characters XML 1.0 forbids, for strings and for UTF-8 bytes.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { escapeAttribute, escapeText, hasControlByte, indexTitle, pushEscapedUtf8, titleText } from '../../src/dumps/escape.js';

function escapeBytes(bytes: Uint8Array): string {
  const pieces: Buffer[] = [];
  pushEscapedUtf8(bytes, {
    push: (text) => pieces.push(Buffer.from(text, 'utf8')),
    pushBytes: (chunk) => pieces.push(Buffer.from(chunk)),
    pushLatin1: (text) => pieces.push(Buffer.from(text, 'latin1')),
  });
  return Buffer.concat(pieces).toString('utf8');
}

test('text escaping writes & < > as entities and CR as a character reference, and leaves quotes alone', () => {
  assert.equal(escapeText(`a & b < c > d "e" 'f'`), `a &amp; b &lt; c &gt; d "e" 'f'`);
  assert.equal(escapeText('line\r\nnext\ttab'), 'line&#13;\nnext\ttab');
  assert.equal(escapeText(']]>'), ']]&gt;');
  assert.equal(escapeText('plain'), 'plain');
});

test('characters XML 1.0 forbids become U+FFFD; non-BMP characters and allowed controls stay', () => {
  assert.equal(escapeText('nul\u0000 bell\u0007 vt\u000b ff\u000c esc\u001b'), 'nul\uFFFD bell\uFFFD vt\uFFFD ff\uFFFD esc\uFFFD');
  assert.equal(escapeText('\uFFFE\uFFFF'), '\uFFFD\uFFFD');
  assert.equal(escapeText('lone \uD800 and \uDC00 halves'), 'lone \uFFFD and \uFFFD halves');
  assert.equal(escapeText('pair 😀 𝄞 𠮷'), 'pair 😀 𝄞 𠮷');
  assert.equal(escapeText('del\u007f c1\u0085 nbsp\u00a0'), 'del\u007f c1\u0085 nbsp\u00a0');
});

test('attribute escaping also covers quotes, TAB, LF and CR', () => {
  assert.equal(escapeAttribute(`T & "Q" <x>\t\n\r`), 'T &amp; &quot;Q&quot; &lt;x&gt;&#9;&#10;&#13;');
  assert.equal(escapeAttribute('a\u0001b'), 'a\uFFFDb');
});

test('index titles stay on one line and are not XML-escaped', () => {
  // recompressxml copies the <title> element's text as written: entities stay (`AT&amp;T`).
  assert.equal(indexTitle('A & B <c>'), 'A &amp; B &lt;c&gt;');
  assert.equal(indexTitle('two\nlines\r'), 'two\uFFFDlines&#13;');
  assert.equal(indexTitle('bad\u0000'), 'bad\uFFFD');
  assert.equal(titleText('Talk:Foo_bar_baz'), 'Talk:Foo bar baz');
});

/** xorshift32 */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state;
  };
}

const PIECES = ['a', 'Z', ' ', '\n', '\t', '\r', '&', '<', '>', '"', "'", '\u0000', '\u0001', '\u001f', '\u007f', 'é', 'Ω', '東', '\uFFFD', '\uFFFE', '\uFFFF', '😀', '\uD800', '\uDFFF', '&amp;', ']]>'];

test('escaping UTF-8 bytes gives the same text as escaping the decoded string, at every alignment', () => {
  const next = random(1234);
  for (let i = 0; i < 3000; i++) {
    let text = '';
    const length = next() % 40;
    for (let j = 0; j < length; j++) text += PIECES[next() % PIECES.length];
    const bytes = Buffer.from(text, 'utf8');
    // The decoded form of the bytes: Buffer.from already turned lone surrogates into U+FFFD.
    const expected = escapeText(bytes.toString('utf8'));
    const offset = next() % 4;
    const shifted = new Uint8Array(bytes.length + offset);
    shifted.set(bytes, offset);
    assert.equal(escapeBytes(shifted.subarray(offset)), expected, JSON.stringify(text));
  }
});

test('escaping invalid UTF-8 bytes replaces the bad sequences with U+FFFD instead of writing them', () => {
  assert.equal(escapeBytes(Buffer.from([0x61, 0xff, 0x3c, 0xc3])), 'a\uFFFD&lt;\uFFFD');
  assert.equal(escapeBytes(Buffer.from([0xef, 0xbf, 0xbe, 0x26])), '\uFFFD&amp;');
});

test('hasControlByte finds a control byte at any position and alignment, and ignores TAB, LF and non-control bytes', () => {
  const base = Buffer.from('abcdefghijklmnopqrstuvwxyz0123456789\t\n\u00ff\u007f'.repeat(3), 'latin1');
  for (let offset = 0; offset < 4; offset++) {
    const padded = new Uint8Array(base.length + offset);
    padded.set(base, offset);
    const view = padded.subarray(offset);
    assert.equal(hasControlByte(view), false, `offset ${offset}`);
    for (const control of [0x00, 0x01, 0x08, 0x0b, 0x0c, 0x0d, 0x0e, 0x1f]) {
      for (let at = 0; at < view.length; at++) {
        const copy = Uint8Array.from(padded);
        copy[offset + at] = control;
        assert.equal(hasControlByte(copy.subarray(offset)), true, `control ${control} at ${at}, offset ${offset}`);
      }
    }
  }
  assert.equal(hasControlByte(new Uint8Array(0)), false);
  assert.equal(hasControlByte(Uint8Array.of(0x0d)), true);
});
