// The line splitter on byte chunks as pipes deliver them: lines cut anywhere, CRLF, a last line
// without newline, characters split between chunks, and lines too long to keep whole.
import { describe, expect, it } from 'vitest';
import { createLineSplitter } from './line-splitter.js';

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
