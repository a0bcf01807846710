// The `$EVENTOPS_OUTPUT` format, as GitHub Actions defines `$GITHUB_OUTPUT`.
import { describe, expect, it } from 'vitest';
import { parseOutputFile } from './output-file.js';

describe('parseOutputFile', () => {
  it('reads name=value lines, values taken as written', () => {
    expect(parseOutputFile('a=1\nb= spaced \nc=x=y\nempty=\n\n')).toEqual({ ok: true, outputs: { a: '1', b: ' spaced ', c: 'x=y', empty: '' } });
  });

  it('reads name<<DELIMITER blocks, empty lines and = signs inside included', () => {
    const text = 'notes<<EOF\nline 1\n\nk=v\nEOF\nafter=1\n';
    expect(parseOutputFile(text)).toEqual({ ok: true, outputs: { notes: 'line 1\n\nk=v', after: '1' } });
    expect(parseOutputFile('empty<<END\nEND\n')).toEqual({ ok: true, outputs: { empty: '' } });
    expect(parseOutputFile('crlf<<END\r\na\r\nb\r\nEND\r\n')).toEqual({ ok: true, outputs: { crlf: 'a\nb' } });
  });

  it('takes a value with << after = as a plain value', () => {
    expect(parseOutputFile('cmd=cat <<EOF\n')).toEqual({ ok: true, outputs: { cmd: 'cat <<EOF' } });
  });

  it('lets a later line win', () => {
    expect(parseOutputFile('a=1\na=2\n')).toEqual({ ok: true, outputs: { a: '2' } });
  });

  it('says which line is wrong', () => {
    expect(parseOutputFile('a=1\nnot an output\n')).toEqual({ ok: false, error: 'line 2: expected name=value or name<<DELIMITER' });
    expect(parseOutputFile('notes<<EOF\nnever closed\n')).toEqual({ ok: false, error: 'line 1: no line "EOF" closes the value of "notes"' });
    expect(parseOutputFile('=1')).toMatchObject({ ok: false, error: expect.stringContaining('line 1') });
    expect(parseOutputFile('x<<\n')).toMatchObject({ ok: false, error: expect.stringContaining('needs a delimiter') });
    expect(parseOutputFile('bad name=1')).toMatchObject({ ok: false, error: expect.stringContaining('not an output name') });
  });
});
