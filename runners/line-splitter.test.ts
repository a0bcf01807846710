// The line splitter on byte chunks as pipes deliver them: lines cut anywhere, CRLF, a last line
// without newline, characters split between chunks, and lines too long to keep whole.
import { describe, expect, it } from 'vitest';
import { createLineSplitter } from './line-splitter.js';
import { createMasker } from './mask.js';

const split = (chunks: (string | Buffer)[], max?: number) => {
  const lines: string[] = [];
  const splitter = createLineSplitter((text) => lines.push(text), max);
  for (const chunk of chunks) splitter.write(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  splitter.end();
  return lines;
};

describe('createLineSplitter', () => {
  it('emits lines in order however the chunks cut them, keeping empty lines', () => {
    expect(split(['a', 'b\nc', 'd\n\ne\n'])).toEqual(['ab', 'cd', '', 'e']);
  });

  it('drops one trailing \\r, and flushes a last line without newline at the end', () => {
    expect(split(['one\r\ntwo\r\r\nlast'])).toEqual(['one', 'two\r', 'last']);
    expect(split(['x\n'])).toEqual(['x']);
    expect(split([])).toEqual([]);
  });

  it('decodes a character whose bytes arrive in two chunks', () => {
    const bytes = Buffer.from('héllo 🚀\n');
    const at = bytes.indexOf(0xf0) + 2; // inside the rocket
    expect(split([bytes.subarray(0, at), bytes.subarray(at)])).toEqual(['héllo 🚀']);
  });

  it('cuts a line over the limit into pieces, never inside a character', () => {
    expect(split(['abcdefghij\n'], 4)).toEqual(['abcd', 'efgh', 'ij']);
    expect(split(['abcdefgh\n'], 4)).toEqual(['abcd', 'efgh']);
    const pieces = split(['aé🚀b\n'], 4); // 1 + 2 + 4 + 1 bytes
    expect(pieces).toEqual(['aé', '🚀', 'b']);
    expect(pieces.join('')).toBe('aé🚀b');
  });

  it('keeps memory bounded for an endless line', () => {
    const lines: string[] = [];
    const splitter = createLineSplitter((text) => lines.push(text), 1024);
    for (let i = 0; i < 100; i++) splitter.write(Buffer.alloc(1000, 'x'));
    expect(lines).toHaveLength(97);
    splitter.end();
    expect(lines.join('')).toHaveLength(100_000);
  });
});

describe('createLineSplitter with texts to keep whole', () => {
  it('never cuts inside a kept text: the cut moves before it, so masking each piece hides it', () => {
    const secret = 'SECRET-VALUE';
    const pieces = split([`abcdefghSECRET-VALUE-tail\n`], 10);
    // Without keepWhole the cut falls inside the secret.
    expect(pieces[0]).toBe('abcdefghSE');
    const kept: string[] = [];
    const splitter = createLineSplitter((text) => kept.push(text), 10, [secret]);
    splitter.write(Buffer.from('abcdefghSECRET-VALUE-tail\nnext\n'));
    splitter.end();
    expect(kept).toEqual(['abcdefgh', 'SECRET-VALUE', '-tail', 'next']);
    expect(kept.slice(0, 3).join('')).toBe('abcdefghSECRET-VALUE-tail');
  });

  it('cuts around a kept text arriving byte by byte in an endless line, memory bounded', () => {
    const mask = createMasker(['0123456789ab']);
    const kept: string[] = [];
    const splitter = createLineSplitter((text) => kept.push(text), 8, mask.needles);
    for (const byte of Buffer.from('xxxxxx0123456789abyyyyyyyyyyyy0123456789ab')) splitter.write(Buffer.from([byte]));
    splitter.end();
    expect(kept.join('')).toBe('xxxxxx0123456789abyyyyyyyyyyyy0123456789ab');
    expect(kept.map(mask).join('')).toBe('xxxxxx***yyyyyyyyyyyy***');
    for (const piece of kept) expect(Buffer.byteLength(piece)).toBeLessThanOrEqual(8 + 12);
  });
});
