/**
 * Resource profile arithmetic: whether one profile covers another (cpu, memory and every
 * extended resource), sums and differences, and a canonical key and text for each profile.
 */
import type { ResourceProfile } from "./types.ts";

/** Zero of everything: as a requirement "any slot will do", as a slot "fits any requirement". */
export const ANY_PROFILE: Readonly<ResourceProfile> = Object.freeze({
  cpu: 0,
  memoryMb: 0,
  extended: Object.freeze({}) as Record<string, number>,
});

// Sums of fractional cpus drift (0.1 + 0.2); differences this small are the same amount.
const EPSILON = 1e-9;
const round = (n: number) => Math.round(n * 1e9) / 1e9;

export function profile(
  cpu: number,
  memoryMb: number,
  extended: Record<string, number> = {},
): ResourceProfile {
  return { cpu, memoryMb, extended: { ...extended } };
}

export function isAny(p: ResourceProfile): boolean {
  return (
    p.cpu <= EPSILON &&
    p.memoryMb <= EPSILON &&
    Object.values(p.extended).every((v) => v <= EPSILON)
  );
}

/** True when every amount of `offered` is at least the amount `required` asks for. */
export function covers(offered: ResourceProfile, required: ResourceProfile): boolean {
  if (required.cpu - offered.cpu > EPSILON) return false;
  if (required.memoryMb - offered.memoryMb > EPSILON) return false;
  for (const [name, amount] of Object.entries(required.extended)) {
    if (amount - (offered.extended[name] ?? 0) > EPSILON) return false;
  }
  return true;
}

/**
 * Whether a requirement of profile `required` can be served by a slot of profile `slot`: an
 * ANY requirement fits every slot, every requirement fits an ANY slot, otherwise the slot must
 * cover the requirement.
 */
export function fits(required: ResourceProfile, slot: ResourceProfile): boolean {
  return isAny(required) || isAny(slot) || covers(slot, required);
}

function combine(a: ResourceProfile, b: ResourceProfile, sign: 1 | -1): ResourceProfile {
  const extended: Record<string, number> = { ...a.extended };
  for (const [name, amount] of Object.entries(b.extended)) {
    extended[name] = round((extended[name] ?? 0) + sign * amount);
  }
  for (const [name, amount] of Object.entries(extended)) {
    if (Math.abs(amount) <= EPSILON) delete extended[name];
  }
  return {
    cpu: round(a.cpu + sign * b.cpu),
    memoryMb: round(a.memoryMb + sign * b.memoryMb),
    extended,
  };
}

export function add(a: ResourceProfile, b: ResourceProfile): ResourceProfile {
  return combine(a, b, 1);
}

/** `a - b`; amounts may go negative (callers check `covers` first when that matters). */
export function subtract(a: ResourceProfile, b: ResourceProfile): ResourceProfile {
  return combine(a, b, -1);
}

export function sum(profiles: Iterable<ResourceProfile>): ResourceProfile {
  let total: ResourceProfile = profile(0, 0);
  for (const p of profiles) total = add(total, p);
  return total;
}

export function equalProfiles(a: ResourceProfile, b: ResourceProfile): boolean {
  return profileKey(a) === profileKey(b);
}

/** Canonical text of a profile (extended names sorted, zeros dropped): a Map key. */
export function profileKey(p: ResourceProfile): string {
  const extended = Object.entries(p.extended)
    .filter(([, v]) => Math.abs(v) > EPSILON)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `,${k}=${round(v)}`)
    .join("");
  return `cpu=${round(p.cpu)},memoryMb=${round(p.memoryMb)}${extended}`;
}

/** For people: `any` or `cpu=1,memoryMb=512,gpu=1`. */
export function describeProfile(p: ResourceProfile): string {
  return isAny(p) ? "any" : profileKey(p);
}

/**
 * Orders profiles smallest first: fewer extended resources, then less cpu, then less memory.
 * Picking the smallest slot that fits keeps GPUs and big slots for requirements that need them.
 */
export function compareProfiles(a: ResourceProfile, b: ResourceProfile): number {
  const ext = (p: ResourceProfile) => Object.values(p.extended).reduce((s, v) => s + v, 0);
  return ext(a) - ext(b) || a.cpu - b.cpu || a.memoryMb - b.memoryMb;
}
