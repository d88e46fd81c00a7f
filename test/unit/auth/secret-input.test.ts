import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import { applyKeystrokes, firstLine, type KeystrokeState } from '../../../src/auth/secret-input.js';

const fresh: KeystrokeState = { value: '', done: false, cancelled: false };

describe('applyKeystrokes (hidden TTY input)', () => {
  test('Enter ends the input; typed characters are kept', () => {
    expect(applyKeystrokes(fresh, 's3cret\r')).toEqual({ value: 's3cret', done: true, cancelled: false });
    expect(applyKeystrokes(applyKeystrokes(fresh, 'ab'), 'c\n')).toEqual({ value: 'abc', done: true, cancelled: false });
  });
  test('Backspace, DEL and Ctrl-U edit; multi-byte characters erase whole', () => {
    expect(applyKeystrokes(fresh, 'abx\u007fc\r').value).toBe('abc');
    expect(applyKeystrokes(fresh, 'abx\bc\r').value).toBe('abc');
    expect(applyKeystrokes(fresh, 'wrong\u0015right\r').value).toBe('right');
    expect(applyKeystrokes(fresh, 'pä😀\u007f\r').value).toBe('pä');
  });
  test('Ctrl-C cancels and forgets; Ctrl-D cancels only on an empty line', () => {
    expect(applyKeystrokes(fresh, 'abc\u0003')).toEqual({ value: '', done: true, cancelled: true });
    expect(applyKeystrokes(fresh, '\u0004')).toEqual({ value: '', done: true, cancelled: true });
    expect(applyKeystrokes(fresh, 'abc\u0004')).toEqual({ value: 'abc', done: true, cancelled: false });
  });
  test('arrow keys and other control characters never become part of the secret', () => {
    expect(applyKeystrokes(fresh, 'a\u001b[Db\u001b[1;5Cc\u001bOAd\t\r').value).toBe('abcd');
  });
  test('without Enter nothing is done, whatever printable text arrives', () => {
    fc.assert(fc.property(fc.string().filter((s) => !/[\r\n\u0003\u0004]/.test(s)), (s) => {
      const r = applyKeystrokes(fresh, s);
      expect(r.done).toBe(false);
      // eslint-disable-next-line no-control-regex
      expect(r.value).not.toMatch(/[\u0000-\u001f]/);
    }));
  });
});

describe('firstLine (piped input)', () => {
  test('takes the first line without its ending, LF or CRLF', () => {
    expect(firstLine('tok\n')).toBe('tok');
    expect(firstLine('tok\r\nmore')).toBe('tok');
    expect(firstLine('tok')).toBe('tok');
    expect(firstLine('')).toBe('');
  });
  test('keeps spaces inside a password', () => {
    expect(firstLine(' correct horse \n')).toBe(' correct horse ');
  });
});
