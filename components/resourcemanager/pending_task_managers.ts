/**
 * The TaskManagers the SlotManager asked its driver for that have not registered yet, and the
 * back-off for profiles the driver failed to start: what keeps it from asking twice for one need,
 * or asking a failing driver again on every tick.
 */
import { profileKey } from "./profile.ts";
import type { ResourceProfile } from "./types.ts";

interface Request {
  profile: ResourceProfile;
  requestedAt: number;
}

export class PendingTaskManagers {
  #requests: Request[] = [];
  /** Profiles the driver failed to start, and when to ask it again. */
  readonly #backoff = new Map<string, { delayMs: number; until: number }>();
  readonly #timeoutMs: number;
  readonly #now: () => number;

  /** `timeoutMs`: how long a requested TaskManager may take to register before it is forgotten. */
  constructor(timeoutMs: number, now: () => number) {
    this.#timeoutMs = timeoutMs;
    this.#now = now;
  }

  get count(): number {
    return this.#requests.length;
  }

  /** The requested profiles, oldest first (a copy). */
  profiles(): ResourceProfile[] {
    return this.#requests.map((r) => r.profile);
  }

  /** False while the driver is backing off for this profile after it failed to start one. */
  mayRequest(profile: ResourceProfile): boolean {
    const backoff = this.#backoff.get(profileKey(profile));
    return !(backoff && backoff.until > this.#now());
  }

  requested(profile: ResourceProfile): void {
    this.#requests.push({ profile, requestedAt: this.#now() });
  }

  /** The driver could not start one: forget one request so a later check retries, not at once. */
  failed(profile: ResourceProfile): void {
    const key = profileKey(profile);
    const at = this.#requests.findLastIndex((r) => profileKey(r.profile) === key);
    if (at >= 0) this.#requests.splice(at, 1);
    // Ask the driver again later, not on every tick: 1 s, doubling up to a minute.
    const delayMs = Math.min((this.#backoff.get(key)?.delayMs ?? 500) * 2, 60_000);
    this.#backoff.set(key, { delayMs, until: this.#now() + delayMs });
  }

  /** The driver started one: requests for its profile go at once again. */
  succeeded(profile: ResourceProfile): void {
    this.#backoff.delete(profileKey(profile));
  }

  /** Requests that never registered within the timeout are forgotten. */
  expire(): void {
    const now = this.#now();
    this.#requests = this.#requests.filter((r) => now - r.requestedAt < this.#timeoutMs);
  }

  /** A TaskManager registered: drops, oldest first, each request `serves` says it answers. */
  answeredBy(serves: (profile: ResourceProfile) => boolean): void {
    this.#requests = this.#requests.filter((r) => !serves(r.profile));
  }
}
