import { randomBytes, randomInt } from 'node:crypto';
import { UserInfo } from '../protocol';

const adjectives = ['Amber', 'Brave', 'Calm', 'Dizzy', 'Eager', 'Fuzzy', 'Gentle', 'Happy', 'Jolly', 'Lucky', 'Mellow', 'Nimble', 'Plucky', 'Quiet', 'Rapid', 'Sunny', 'Witty', 'Zesty'];
const animals = ['Otter', 'Panda', 'Falcon', 'Koala', 'Lynx', 'Heron', 'Badger', 'Gecko', 'Moose', 'Puffin', 'Tapir', 'Walrus', 'Yak', 'Fox', 'Owl', 'Seal'];
/**
 * Name colors. Every one passes WCAG AA (4.5:1) for normal text on every background a name
 * is drawn on (test/client/colors.test.ts computes it from public/style.css), and they are
 * many and far apart, so two people in a room rarely share one (the client adds a mark from
 * the user id, and an id tag where color and mark are both the same).
 */
export const NAME_COLORS: readonly string[] = [
  '#c62828', // red
  '#ad1457', // raspberry
  '#a3169c', // magenta
  '#7b1fa2', // purple
  '#5e35b1', // violet
  '#3949ab', // indigo
  '#1565c0', // blue
  '#0b6a8a', // sea blue
  '#00695c', // teal
  '#2a7030', // green
  '#566300', // olive
  '#7a5c00', // ochre
  '#a84400', // orange
  '#6d4c41', // brown
  '#455a64', // slate
  '#880e4f', // wine
  '#1a237e', // navy
  '#004d40', // pine
];

/** A new opaque id with the given prefix (`u_` users, `r_` rooms, `w_` whispers). */
export function newId(prefix: string): string {
  return prefix + randomBytes(12).toString('base64url');
}

/** A fresh anonymous user: random id, a friendly random name, a color. */
export function newGuest(): UserInfo {
  const name = `${adjectives[randomInt(adjectives.length)]}${animals[randomInt(animals.length)]}${randomInt(10, 100)}`;
  return { id: newId('u_'), name, color: NAME_COLORS[randomInt(NAME_COLORS.length)] };
}

/** True when `value` looks like a user stored in a session by this server. */
export function isUserInfo(value: unknown): value is UserInfo {
  if (typeof value !== 'object' || value === null) return false;
  const u = value as Record<string, unknown>;
  return typeof u.id === 'string' && typeof u.name === 'string' && typeof u.color === 'string';
}
