import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { plainWords, retryFor, retryWords } from '../../client/errors';
import { errorCodes, uploadErrorCodes } from '../../src/protocol/errors';

describe('client error words', () => {
  test('every code the server has gets its own plain words, for every action', () => {
    for (const code of [...errorCodes, ...uploadErrorCodes]) {
      for (const action of [undefined, 'join', 'message', 'whisper', 'history', 'kick', 'transfer', 'delete', 'upload', 'register'] as const) {
        expect(plainWords(code, action)).not.toBe(plainWords('no_such_code', action));
      }
    }
  });

  test('the words come from the code, whatever the message says', () => {
    expect(plainWords('banned', 'join')).toMatch(/removed from this room/);
    expect(plainWords('forbidden', 'join')).toMatch(/password/);
    expect(plainWords('forbidden', 'kick')).toMatch(/owner/);
    expect(plainWords('name_taken', 'register')).toMatch(/already has that name/);
    expect(plainWords('__proto__')).toBe(plainWords('no_such_code'));
  });

  test('upload refusals in plain words, with when to try again from retryAfterMs', () => {
    expect(plainWords('storage_full', 'upload')).toMatch(/out of space/);
    expect(plainWords('storage_full', 'message')).toMatch(/out of space/);
    expect(plainWords('too_slow', 'upload')).toMatch(/too slow/);
    expect(plainWords('rate_limited', 'upload')).toMatch(/Too many uploads/);
    expect(retryWords(2000)).toBe('You can try again in 2 seconds.');
    expect(retryWords(5 * 60_000)).toBe('You can try again in about 5 minutes.');
    expect(retryWords(3 * 3_600_000)).toBe('You can try again in about 3 hours.');
    expect(retryWords(0)).toBe('');
  });

  test('what may be sent again: offline after the rejoin, unavailable / rate_limited / not_joined after a back-off', () => {
    expect(retryFor('offline')).toBe('rejoin');
    expect(retryFor('unavailable')).toBe('backoff');
    expect(retryFor('rate_limited')).toBe('backoff');
    expect(retryFor('not_joined')).toBe('backoff');
    for (const code of ['invalid_data', 'forbidden', 'banned', 'not_found', 'internal', 'whatever']) expect(retryFor(code)).toBe(false);
  });
});

describe('the browser client source', () => {
  const dir = path.resolve(__dirname, '../../client');
  const sources = fs.readdirSync(dir).filter((f) => f.endsWith('.ts'));

  test('imports nothing from outside client/ but types (the browser is served public/js only)', () => {
    const valueImports: string[] = [];
    for (const file of sources) {
      const source = ts.createSourceFile(file, fs.readFileSync(path.join(dir, file), 'utf8'), ts.ScriptTarget.ES2022);
      for (const statement of source.statements) {
        if (!(ts.isImportDeclaration(statement) || ts.isExportDeclaration(statement)) || !statement.moduleSpecifier) continue;
        const from = (statement.moduleSpecifier as ts.StringLiteral).text;
        if (from.startsWith('./')) continue;
        const typeOnly = ts.isImportDeclaration(statement) ? statement.importClause?.isTypeOnly === true : statement.isTypeOnly;
        if (!typeOnly) valueImports.push(`${file}: ${statement.getText(source)}`);
      }
    }
    expect(valueImports).toEqual([]);
  });

  test('the pure modules (room state, errors, pacing, timeline, colors) touch no DOM', () => {
    for (const file of ['room-state.ts', 'errors.ts', 'pacing.ts', 'timeline.ts', 'colors.ts']) {
      const code = fs.readFileSync(path.join(dir, file), 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '');
      expect(code).not.toMatch(/\b(document|window|location|HTMLElement|fetch|WebSocket)\b/);
    }
  });
});
