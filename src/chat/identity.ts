import { randomBytes, randomInt } from 'node:crypto';
import { UserInfo } from '../protocol';

const adjectives = ['Amber', 'Brave', 'Calm', 'Dizzy', 'Eager', 'Fuzzy', 'Gentle', 'Happy', 'Jolly', 'Lucky', 'Mellow', 'Nimble', 'Plucky', 'Quiet', 'Rapid', 'Sunny', 'Witty', 'Zesty'];
const animals = ['Otter', 'Panda', 'Falcon', 'Koala', 'Lynx', 'Heron', 'Badger', 'Gecko', 'Moose', 'Puffin', 'Tapir', 'Walrus', 'Yak', 'Fox', 'Owl', 'Seal'];
// Readable on a light background; each passes WCAG AA for large text on white.
const colors = ['#c0392b', '#d35400', '#b7950b', '#27ae60', '#16a085', '#2980b9', '#8e44ad', '#2c3e50', '#e84393', '#6c5ce7', '#00838f', '#795548'];

/** A new opaque id with the given prefix (`u_` users, `r_` rooms, `w_` whispers). */
export function newId(prefix: string): string {
  return prefix + randomBytes(12).toString('base64url');
}

/** A fresh anonymous user: random id, a friendly random name, a color. */
export function newGuest(): UserInfo {
  const name = `${adjectives[randomInt(adjectives.length)]}${animals[randomInt(animals.length)]}${randomInt(10, 100)}`;
  return { id: newId('u_'), name, color: colors[randomInt(colors.length)] };
}

/** True when `value` looks like a user stored in a session by this server. */
export function isUserInfo(value: unknown): value is UserInfo {
  if (typeof value !== 'object' || value === null) return false;
  const u = value as Record<string, unknown>;
  return typeof u.id === 'string' && typeof u.name === 'string' && typeof u.color === 'string';
}
