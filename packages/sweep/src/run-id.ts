import { createHash } from 'node:crypto';

/** A value that survives JSON.stringify → JSON.parse unchanged: what a run's config and result must be. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/**
 * The JSON text of a value with object keys sorted at every level, so that two configs that are
 * equal as data give the same text (and the same run id) whatever order their keys were written
 * in. Anything JSON would silently change — undefined, functions, NaN, ±Infinity, class
 * instances such as Date or Map — is an error naming where it is, because a config that does
 * not survive the trip through Redis would not run as submitted.
 */
export function canonicalJson(value: unknown, where = 'config'): string {
  return JSON.stringify(asJson(value, where, true));
}

/**
 * A copy of a value as plain JSON data (keys in their order, or sorted), with the same errors as
 * {@link canonicalJson} for anything JSON would change.
 */
export function asJson(value: unknown, where: string, sortKeys = false): Json {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return value;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError(`${where} is ${value}, which JSON cannot carry; use a finite number or null`);
    return value;
  }
  if (Array.isArray(value)) return value.map((v, i) => asJson(v, `${where}[${i}]`, sortKeys));
  if (typeof value === 'object') {
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      throw new TypeError(`${where} is a ${proto?.constructor?.name ?? 'non-plain'} object; configs must be plain JSON data (objects, arrays, strings, numbers, booleans, null)`);
    }
    const out: { [key: string]: Json } = {};
    for (const key of sortKeys ? Object.keys(value).sort() : Object.keys(value)) {
      const v = (value as Record<string, unknown>)[key];
      // JSON.stringify drops undefined properties; dropping them here keeps the id equal to the
      // config the worker will receive.
      if (v === undefined) continue;
      out[key] = asJson(v, `${where}.${key}`, sortKeys);
    }
    return out;
  }
  throw new TypeError(`${where} is ${typeof value === 'undefined' ? 'undefined' : `a ${typeof value}`}, which JSON cannot carry`);
}

/** Runner names and sweep kinds become part of Redis job ids and folder names. */
export const NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;

export function checkName(name: string, what: string): void {
  if (!NAME_PATTERN.test(name)) {
    throw new Error(`${what} '${name}' is not a valid name: use 1–63 lowercase letters, digits and dashes, starting with a letter or digit`);
  }
}

/** Hex SHA-256 of a text. */
export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/**
 * The id of a run: the runner's name and a hash of its canonical config. The same config always
 * gets the same id, so submitting it again finds the job that already ran it.
 */
export function runId(runner: string, config: unknown): string {
  checkName(runner, 'runner');
  return `${runner}-${sha256(`${runner}\n${canonicalJson(config)}`).slice(0, 20)}`;
}

/** The id of a sweep: its kind and a hash of its runs' ids (in order) and of what it records besides them. */
export function sweepId(kind: string, runIds: readonly string[], meta: unknown): string {
  checkName(kind, 'sweep kind');
  return `${kind}-${sha256(`${runIds.join('\n')}\n${canonicalJson(meta, 'sweep meta')}`).slice(0, 16)}`;
}
