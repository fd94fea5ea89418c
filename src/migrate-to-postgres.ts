import path from 'node:path';
import dotenv from 'dotenv';
import { defaults } from './config';
import { copySqliteToPostgres, describeReport, Progress, reasonOf, safeUrl } from './store/sqlite-to-pg';

/**
 * `npm run migrate-to-postgres [-- --force]`: copies the SQLite deployment under DATA_DIR
 * (gif-chat.db and uploads/, as the server keeps them: src/app.ts) into the PostgreSQL
 * database at DATABASE_URL. Reads the environment (and .env, as `npm start` does) and the
 * arguments, then calls copySqliteToPostgres. Exit 0 when copied and verified; 1 with one
 * line on stderr otherwise (--stack adds the stack).
 */
const USAGE = 'usage: DATA_DIR=./data DATABASE_URL=postgres://user:pass@host:5432/db npm run migrate-to-postgres [-- --force] [--stack]';
const NAME = 'migrate-to-postgres';
/** How often progress is printed while a phase runs. */
const PROGRESS_EVERY_MS = 2000;

async function main(argv: string[], env: Record<string, string | undefined>): Promise<number> {
  const flags = new Set(argv);
  const stack = flags.delete('--stack');
  const force = flags.delete('--force');
  if (flags.delete('--help') || flags.delete('-h')) {
    console.log(USAGE);
    return 0;
  }
  try {
    if (flags.size > 0) throw new Error(`unknown argument ${[...flags][0]} (${USAGE})`);
    const databaseUrl = env.DATABASE_URL?.trim();
    if (!databaseUrl) throw new Error('DATABASE_URL is not set: set it to the PostgreSQL database to copy into, like postgres://user:pass@host:5432/db');
    if (!/^postgres(ql)?:\/\//.test(databaseUrl)) throw new Error('DATABASE_URL must start with postgres:// or postgresql:// (like postgres://user:pass@host:5432/db)');
    const dataDir = path.resolve(env.DATA_DIR?.trim() || defaults.dataDir);
    const sqliteFile = path.join(dataDir, 'gif-chat.db');
    const uploadsDir = path.join(dataDir, 'uploads');

    console.log(`${NAME}: from ${sqliteFile} and ${uploadsDir} to ${safeUrl(databaseUrl)}${force ? ' (--force: replacing what it holds)' : ''}`);
    // The first batch of each phase, then one line every few seconds.
    let shown = { phase: '', at: 0 };
    const show = (p: Progress) => {
      const now = Date.now();
      if (p.phase === shown.phase && now - shown.at < PROGRESS_EVERY_MS) return;
      shown = { phase: p.phase, at: now };
      console.log(`  ${p.phase}: ${p.done}${p.phase === 'gifs' ? ` (${p.bytes} bytes)` : ''} so far`);
    };
    const report = await copySqliteToPostgres({ sqliteFile, uploadsDir, databaseUrl, force, onProgress: show });
    for (const line of describeReport(report)) console.log(line);
    console.log(`${NAME}: done. Start the server with DATABASE_URL set (and REDIS_URL and WORKERS to run several processes).`);
    return 0;
  } catch (err) {
    console.error(`${NAME}: failed: ${reasonOf(err)}`);
    if (stack && err instanceof Error && err.stack) console.error(err.stack);
    return 1;
  }
}

dotenv.config({ quiet: true });
main(process.argv.slice(2), process.env).then((code) => process.exit(code));
