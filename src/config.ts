import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';

/** Every setting the server reads, with its resolved value. */
export interface Config {
  /** TCP port to listen on (0 picks a free one). */
  port: number;
  /** Interface to bind. */
  host: string;
  /** Folder holding the SQLite database and uploads. */
  dataDir: string;
  /** Secret that signs the session cookie. */
  cookieSecret: string;
  /** True when NODE_ENV=production. */
  production: boolean;
  /** Trust X-Forwarded-* headers (behind a TLS-terminating proxy). */
  trustProxy: boolean;
  /** Interval between pings; a socket silent for a whole round is terminated. */
  heartbeatMs: number;
  /** Largest WebSocket frame accepted, in bytes (bigger closes with 1009). */
  maxPayload: number;
  /** Bytes a socket may have queued unsent before it is terminated. */
  outboxLimit: number;
  /** Sustained frames per second a socket may send. */
  ratePerSec: number;
  /** Frames a socket may send in a burst above the sustained rate. */
  rateBurst: number;
  /** Sustained messages a second one user may post, across all their sockets and every process. */
  userMessagesPerSec: number;
  /** Messages one user may post at once above that rate. */
  userMessagesBurst: number;
  /** Extra origins (besides the server's own) allowed to open a WebSocket. */
  allowedOrigins: string[];
  /** Entries returned by a plain `join` and by `history` without `limit`. */
  historyLimit: number;
  /** Most entries returned by `join` with `since` before `more: true`. */
  resumeLimit: number;
  /** How long a kicked user is kept out of the room. */
  kickBanMs: number;
  /** Largest GIF upload in bytes. */
  maxUploadBytes: number;
  /** Write HTTP access logs (morgan). */
  accessLog: boolean;
  /** How long a user whose last socket in a room closed keeps their place there (no `left`, no `joined` when back). */
  presenceGraceMs: number;
  /** How long the owner may be offline while the room has members before ownership passes on. */
  ownerAwayMs: number;
  /** A room with no members and no new entries for this long is deleted (0: keep forever). */
  roomTtlMs: number;
  /** How often each server sweeps presence (grace ends, dead servers) and applies the owner and expiry policies. */
  sweepMs: number;
  /** PostgreSQL connection URL: selects the PostgreSQL store. Unset: SQLite under dataDir. */
  databaseUrl: string | undefined;
  /** Redis URL: selects the Redis bus and presence. Unset: in-process ones. */
  redisUrl: string | undefined;
  /** Worker processes sharing the port (node:cluster); more than 1 needs databaseUrl and redisUrl. */
  workers: number;
  // ---- abuse guards: passwords, whispers, kick bans, room quotas ----
  /** Room-password attempts per room and user per minute (and 4x that per hour); per client address, 6x that per minute across rooms. */
  passwordAttemptsPerMinute: number;
  /** Whispers a user may send per 10 s, to anyone. */
  whisperRate: number;
  /** Whispers a user may send per 10 s to one same user. */
  whisperTargetRate: number;
  /** Rooms one user may own at once (creation past it is refused). */
  roomsPerUser: number;
  /** Rooms one user may create per hour (3x that per client address). */
  roomCreatesPerHour: number;
  // ---- bounded replies and history memory ----
  /** Most bytes of entries (or rooms) one reply or page carries: resume and history pages end early past it (`more: true`), `chatrooms` pages end with a cursor. Below outboxLimit. */
  maxReplyBytes: number;
  /** One byte budget for every room's cached history tail together; least recently used rooms are evicted first. */
  historyCacheBytes: number;
  // Uploads and storage (abuse limits): see docs/security.md.
  /** GIF uploads one user may have in flight at once, across processes (past it: 429 `rate_limited`). */
  uploadsPerUser: number;
  /** GIF uploads this process receives at once, all users together (past it: 503 `unavailable`). */
  uploadsAtOnce: number;
  /** An upload whose body sends no byte for this long is cut (408 `too_slow`) and its temp file removed. */
  uploadIdleMs: number;
  /** Longest an upload's body may take in all (408 `too_slow` past it). */
  uploadTimeoutMs: number;
  /** GIF uploads one user may make per day (a rolling rate; past it: 429 `rate_limited`). */
  uploadsPerDay: number;
  /** Bytes of GIFs one user may upload per day (a rolling rate; past it: 429 `rate_limited`). */
  uploadBytesPerDay: number;
  /** Total bytes of GIFs and database past which new uploads and messages are refused (507 `storage_full`); 0: no budget. */
  storageMaxBytes: number;
  /** Entries older than this many days are deleted, with their GIFs (0: keep forever). */
  historyDays: number;
  // Sockets per address and session, /metrics, the server's own origin, error details.
  /** WebSocket connections one client address may hold open at once, across processes (more: HTTP 429). */
  socketsPerIp: number;
  /** WebSocket connections one session may hold open at once, across processes (more: HTTP 429). */
  socketsPerSession: number;
  /** Bearer token /metrics asks for; unset: /metrics answers loopback peers only. */
  metricsToken: string | undefined;
  /** The server's own origin as browsers see it (e.g. https://chat.example.com); unset: the Host header, for loopback and private-network hosts only. */
  publicUrl: string | undefined;
  /** True when NODE_ENV=development: error pages show stacks. */
  development: boolean;
  /** New sessions (rows in the store) one client address may start per hour. */
  sessionsPerHour: number;
  /** Bytes of history (join and history pages) one client address may read a second, with 4 s of it at once. */
  readBytesPerSec: number;
}

/** The defaults a user gets with no environment set. */
export const defaults: Omit<Config, 'cookieSecret' | 'dataDir'> & { dataDir: string } = {
  port: 8005,
  host: '0.0.0.0',
  dataDir: './data',
  production: false,
  trustProxy: false,
  heartbeatMs: 30_000,
  maxPayload: 64 * 1024,
  outboxLimit: 1024 * 1024,
  ratePerSec: 20,
  rateBurst: 40,
  userMessagesPerSec: 10,
  userMessagesBurst: 30,
  allowedOrigins: [],
  historyLimit: 50,
  resumeLimit: 1000,
  kickBanMs: 10 * 60_000,
  maxUploadBytes: 5 * 1024 * 1024,
  accessLog: true,
  presenceGraceMs: 15_000,
  ownerAwayMs: 24 * 3_600_000,
  roomTtlMs: 7 * 24 * 3_600_000,
  sweepMs: 1000,
  databaseUrl: undefined,
  redisUrl: undefined,
  workers: 1,
  // ---- abuse guards ----
  passwordAttemptsPerMinute: 5,
  whisperRate: 20,
  whisperTargetRate: 5,
  roomsPerUser: 10,
  roomCreatesPerHour: 20,
  // ---- bounded replies and history memory ----
  maxReplyBytes: 256 * 1024,
  historyCacheBytes: 64 * 1024 * 1024,
  // Uploads and storage (abuse limits).
  uploadsPerUser: 2,
  uploadsAtOnce: 64,
  uploadIdleMs: 30_000,
  uploadTimeoutMs: 120_000,
  uploadsPerDay: 500,
  uploadBytesPerDay: 200 * 1024 * 1024,
  storageMaxBytes: 0,
  historyDays: 0,
  // Sockets per address and session, /metrics, the server's own origin, error details.
  socketsPerIp: 50,
  socketsPerSession: 20,
  metricsToken: undefined,
  publicUrl: undefined,
  development: false,
  sessionsPerHour: 300,
  readBytesPerSec: 2 * 1024 * 1024,
};

/** Thrown when the environment holds a value the server cannot start with. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Env = Record<string, string | undefined>;

function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw.trim());
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name]?.trim().toLowerCase();
  if (raw === undefined || raw === '') return fallback;
  if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
  if (['0', 'false', 'no', 'off'].includes(raw)) return false;
  throw new ConfigError(`${name} must be true or false, got "${env[name]}"`);
}

function origins(env: Env, name: string): string[] {
  const raw = env[name];
  if (!raw || raw.trim() === '') return [];
  return raw.split(',').map((item) => {
    const text = item.trim();
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw new ConfigError(`${name} must be a comma-separated list of origins like https://chat.example.com, got "${text}"`);
    }
    if (url.origin === 'null') throw new ConfigError(`${name}: "${text}" is not an http(s) origin`);
    return url.origin;
  });
}

/** A URL with one of the given schemes, or undefined when unset. */
function url(env: Env, name: string, schemes: string[], example: string): string | undefined {
  const raw = env[name]?.trim();
  if (!raw) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(`${name} must be a URL like ${example}, got "${raw}"`);
  }
  if (!schemes.includes(parsed.protocol)) throw new ConfigError(`${name} must start with ${schemes.map((s) => `${s}//`).join(' or ')} (like ${example})`);
  return raw;
}

/** METRICS_TOKEN: a bearer token (visible ASCII, at least 16 characters), or undefined. */
function metricsToken(env: Env): string | undefined {
  const raw = env.METRICS_TOKEN?.trim();
  if (!raw) return undefined;
  if (!/^[\x21-\x7e]{16,512}$/.test(raw)) throw new ConfigError('METRICS_TOKEN must be 16 to 512 visible ASCII characters (no spaces), e.g. from `openssl rand -hex 32`');
  return raw;
}

/** PUBLIC_URL: the origin browsers reach the server at (required in production), without path. */
function publicUrl(env: Env, production: boolean): string | undefined {
  const raw = url(env, 'PUBLIC_URL', ['http:', 'https:'], 'https://chat.example.com');
  if (raw === undefined) {
    if (production) throw new ConfigError('PUBLIC_URL is required when NODE_ENV=production (the origin browsers use, e.g. https://chat.example.com): it is how the server tells its own pages from other sites');
    return undefined;
  }
  const parsed = new URL(raw);
  if (parsed.pathname !== '/' || parsed.search || parsed.hash || parsed.username || parsed.password) {
    throw new ConfigError(`PUBLIC_URL must be an origin only (scheme, host and port, like https://chat.example.com), got "${raw}"`);
  }
  return parsed.origin;
}

/** WORKERS: a count, or `auto` for one per core. */
function workerCount(env: Env): number {
  const raw = env.WORKERS?.trim().toLowerCase();
  if (raw === 'auto') return os.availableParallelism();
  return int(env, 'WORKERS', defaults.workers, 1, 256);
}

/** Result of loading the environment: the config plus warnings worth logging. */
export interface LoadedConfig {
  config: Config;
  warnings: string[];
}

/**
 * Where a development server without COOKIE_SECRET gets one that survives restarts: the
 * secret kept for `dataDir` (made on first use) and the file holding it. Throws with a
 * message for the operator.
 */
export type SecretKeeper = (dataDir: string) => { secret: string; created: boolean; file: string };

/**
 * Reads the config from an environment map, applying defaults.
 * Throws ConfigError naming the variable when a value is invalid, or when
 * NODE_ENV=production has no COOKIE_SECRET. Without COOKIE_SECRET in development the
 * secret comes from `keeper` (main keeps it in DATA_DIR), else a random one per start.
 */
export function loadConfig(env: Env, keeper?: SecretKeeper): LoadedConfig {
  const warnings: string[] = [];
  const production = env.NODE_ENV === 'production';
  const dataDir = path.resolve(env.DATA_DIR?.trim() || defaults.dataDir);
  let cookieSecret = env.COOKIE_SECRET?.trim() ?? '';
  if (!cookieSecret) {
    if (production) {
      throw new ConfigError('COOKIE_SECRET is required when NODE_ENV=production (sessions would not survive a restart)');
    }
    if (keeper) {
      let kept: ReturnType<SecretKeeper>;
      try {
        kept = keeper(dataDir);
      } catch (err) {
        throw new ConfigError((err as Error).message);
      }
      cookieSecret = kept.secret;
      warnings.push(`COOKIE_SECRET is not set: using the one ${kept.created ? 'made now and kept' : 'kept'} in ${kept.file} (set COOKIE_SECRET in production)`);
    } else {
      cookieSecret = randomBytes(32).toString('hex');
      warnings.push('COOKIE_SECRET is not set: using a random one, so sessions end when the server restarts');
    }
  }
  const host = env.HOST?.trim() || defaults.host;
  const config: Config = {
    port: int(env, 'PORT', defaults.port, 0, 65535),
    host,
    dataDir,
    cookieSecret,
    production,
    trustProxy: bool(env, 'TRUST_PROXY', defaults.trustProxy),
    heartbeatMs: int(env, 'HEARTBEAT_MS', defaults.heartbeatMs, 50, 3_600_000),
    maxPayload: int(env, 'MAX_PAYLOAD', defaults.maxPayload, 1024, 16 * 1024 * 1024),
    outboxLimit: int(env, 'OUTBOX_LIMIT', defaults.outboxLimit, 16 * 1024, 1024 * 1024 * 1024),
    ratePerSec: int(env, 'RATE_PER_SEC', defaults.ratePerSec, 1, 1_000_000),
    rateBurst: int(env, 'RATE_BURST', defaults.rateBurst, 1, 1_000_000),
    userMessagesPerSec: int(env, 'USER_MESSAGES_PER_SEC', defaults.userMessagesPerSec, 1, 1_000_000),
    userMessagesBurst: int(env, 'USER_MESSAGES_BURST', defaults.userMessagesBurst, 1, 1_000_000),
    allowedOrigins: origins(env, 'ALLOWED_ORIGINS'),
    historyLimit: int(env, 'HISTORY_LIMIT', defaults.historyLimit, 1, 100),
    resumeLimit: int(env, 'RESUME_LIMIT', defaults.resumeLimit, 1, 10_000),
    kickBanMs: int(env, 'KICK_BAN_MS', defaults.kickBanMs, 0, 7 * 24 * 3_600_000),
    maxUploadBytes: int(env, 'MAX_UPLOAD_BYTES', defaults.maxUploadBytes, 1024, 100 * 1024 * 1024),
    accessLog: bool(env, 'ACCESS_LOG', defaults.accessLog),
    presenceGraceMs: int(env, 'PRESENCE_GRACE_MS', defaults.presenceGraceMs, 0, 3_600_000),
    ownerAwayMs: int(env, 'OWNER_AWAY_MS', defaults.ownerAwayMs, 0, 365 * 24 * 3_600_000),
    roomTtlMs: int(env, 'ROOM_TTL_MS', defaults.roomTtlMs, 0, 10 * 365 * 24 * 3_600_000),
    sweepMs: int(env, 'SWEEP_MS', defaults.sweepMs, 10, 60_000),
    databaseUrl: url(env, 'DATABASE_URL', ['postgres:', 'postgresql:'], 'postgres://user:pass@host:5432/db'),
    redisUrl: url(env, 'REDIS_URL', ['redis:', 'rediss:'], 'redis://host:6379'),
    workers: workerCount(env),
    // ---- abuse guards ----
    passwordAttemptsPerMinute: int(env, 'PASSWORD_ATTEMPTS_PER_MINUTE', defaults.passwordAttemptsPerMinute, 1, 1000),
    whisperRate: int(env, 'WHISPER_RATE', defaults.whisperRate, 1, 10_000),
    whisperTargetRate: int(env, 'WHISPER_TARGET_RATE', defaults.whisperTargetRate, 1, 10_000),
    roomsPerUser: int(env, 'ROOMS_PER_USER', defaults.roomsPerUser, 1, 1_000_000),
    roomCreatesPerHour: int(env, 'ROOM_CREATES_PER_HOUR', defaults.roomCreatesPerHour, 1, 1_000_000),
    // ---- bounded replies and history memory ----
    // Unset, it stays well under a small OUTBOX_LIMIT too (a quarter of it at most).
    maxReplyBytes: int(env, 'MAX_REPLY_BYTES', Math.min(defaults.maxReplyBytes, Math.floor(int(env, 'OUTBOX_LIMIT', defaults.outboxLimit, 16 * 1024, 1024 * 1024 * 1024) / 4)), 4096, 64 * 1024 * 1024),
    historyCacheBytes: int(env, 'HISTORY_CACHE_BYTES', defaults.historyCacheBytes, 0, 64 * 1024 * 1024 * 1024),
    // Uploads and storage (abuse limits).
    uploadsPerUser: int(env, 'UPLOADS_PER_USER', defaults.uploadsPerUser, 1, 1000),
    uploadsAtOnce: int(env, 'UPLOADS_AT_ONCE', defaults.uploadsAtOnce, 1, 100_000),
    uploadIdleMs: int(env, 'UPLOAD_IDLE_MS', defaults.uploadIdleMs, 100, 3_600_000),
    uploadTimeoutMs: int(env, 'UPLOAD_TIMEOUT_MS', defaults.uploadTimeoutMs, 100, 24 * 3_600_000),
    uploadsPerDay: int(env, 'UPLOADS_PER_DAY', defaults.uploadsPerDay, 1, 1_000_000_000),
    uploadBytesPerDay: int(env, 'UPLOAD_BYTES_PER_DAY', defaults.uploadBytesPerDay, 1024, Number.MAX_SAFE_INTEGER),
    storageMaxBytes: int(env, 'STORAGE_MAX_BYTES', defaults.storageMaxBytes, 0, Number.MAX_SAFE_INTEGER),
    historyDays: int(env, 'HISTORY_DAYS', defaults.historyDays, 0, 100 * 365),
    // Sockets per address and session, /metrics, the server's own origin, error details.
    socketsPerIp: int(env, 'SOCKETS_PER_IP', defaults.socketsPerIp, 1, 1_000_000),
    socketsPerSession: int(env, 'SOCKETS_PER_SESSION', defaults.socketsPerSession, 1, 1_000_000),
    metricsToken: metricsToken(env),
    publicUrl: publicUrl(env, production),
    development: env.NODE_ENV === 'development',
    sessionsPerHour: int(env, 'SESSIONS_PER_HOUR', defaults.sessionsPerHour, 1, 1_000_000),
    readBytesPerSec: int(env, 'READ_BYTES_PER_SEC', defaults.readBytesPerSec, 64 * 1024, 1024 * 1024 * 1024),
  };
  if (config.maxReplyBytes >= config.outboxLimit) {
    throw new ConfigError(
      `MAX_REPLY_BYTES (${config.maxReplyBytes}) must be below OUTBOX_LIMIT (${config.outboxLimit}): a reply is one page, well under what a socket may have unsent; lower MAX_REPLY_BYTES or raise OUTBOX_LIMIT`,
    );
  }
  if (config.readBytesPerSec * 4 < config.maxReplyBytes) {
    throw new ConfigError(`READ_BYTES_PER_SEC (${config.readBytesPerSec}) must allow a whole reply (MAX_REPLY_BYTES ${config.maxReplyBytes}) in 4 s; raise READ_BYTES_PER_SEC`);
  }
  if (config.uploadBytesPerDay < config.maxUploadBytes) {
    throw new ConfigError(`UPLOAD_BYTES_PER_DAY (${config.uploadBytesPerDay}) must be at least MAX_UPLOAD_BYTES (${config.maxUploadBytes}), or no large GIF could ever be posted`);
  }
  if (config.workers > 1 && (!config.databaseUrl || !config.redisUrl)) {
    throw new ConfigError(
      `WORKERS=${config.workers} needs DATABASE_URL and REDIS_URL (processes share their rooms through PostgreSQL and Redis); set both, or WORKERS=1`,
    );
  }
  return { config, warnings };
}

/** A config for tests and embedders: defaults plus overrides, with a random secret. */
export function makeConfig(overrides: Partial<Config> & { dataDir: string }): Config {
  return {
    ...defaults,
    cookieSecret: randomBytes(32).toString('hex'),
    ...overrides,
  };
}
