/**
 * A lease with an absurd expiry (a forged write, or a holder configured far off) is capped when
 * read: standbys take it over at most MAX_LEASE_MS after they first saw it, and `leader()` stops
 * reporting it MAX_LEASE_MS after its write. Manual clock: "before" and "after" are exact.
 */
import t, { type Test } from "tap";
import { leaderKey } from "../../../components/core/mod.ts";
import type { HaKv, KvRecord } from "../../../components/ha/kv.ts";
import {
  decodeLease,
  encodeLease,
  honouredLeaseMs,
  type LeaseValue,
  leaseEnd,
  MAX_LEASE_MS,
} from "../../../components/ha/lease.ts";
import { LeaseElection } from "../../../components/ha/lease_election.ts";
import { MemoryKv } from "../../../components/ha/memory_kv.ts";
import { ManualClock } from "../../support/clock.ts";
import { Contender } from "./contender.ts";

const LEASE_MS = 1000;
const ROLE = "resourcemanager";
const YEAR_MS = 365 * 24 * 3600_000;

function forged(clock: ManualClock, overrides: Partial<LeaseValue> = {}): LeaseValue {
  return {
    holder: "forger",
    subject: "nowhere",
    term: 3,
    expiresAt: clock.now() + 100 * YEAR_MS,
    leaseMs: 100 * YEAR_MS,
    ...overrides,
  };
}

/** A memory store that stamps each record with a write time, as JetStream does. */
class StampedKv extends MemoryKv {
  writtenAt = 0;
  override async get(key: string): Promise<KvRecord | undefined> {
    const record = await super.get(key);
    return record && { ...record, writtenAt: this.writtenAt };
  }
}

function election(t: Test, clock: ManualClock, kv: HaKv, holder: string, leaseMs = LEASE_MS) {
  const e = new LeaseElection(kv, { role: ROLE, holder, leaseMs, clock });
  t.teardown(() => e.stop());
  return e;
}

t.test("the honoured lease length and end are capped", async (t) => {
  const clock = new ManualClock();
  const lease = forged(clock);
  t.equal(honouredLeaseMs(lease, LEASE_MS), MAX_LEASE_MS, "an absurd leaseMs counts as the cap");
  t.equal(honouredLeaseMs({ ...lease, leaseMs: 500 }, LEASE_MS), LEASE_MS, "never below our own");
  t.equal(honouredLeaseMs({ ...lease, leaseMs: 5000 }, LEASE_MS), 5000, "a longer real lease");
  t.equal(
    honouredLeaseMs(lease, 2 * MAX_LEASE_MS),
    2 * MAX_LEASE_MS,
    "a reader configured longer than the cap keeps its own",
  );
  const writtenAt = clock.now();
  t.equal(leaseEnd(lease, writtenAt, LEASE_MS), writtenAt + MAX_LEASE_MS);
  const real = { ...lease, expiresAt: writtenAt + LEASE_MS, leaseMs: LEASE_MS };
  t.equal(leaseEnd(real, writtenAt, LEASE_MS), real.expiresAt, "a real lease ends as written");
});

t.test("a lease whose numbers are not finite is no lease", async (t) => {
  const text = (s: string) => new TextEncoder().encode(s);
  t.equal(
    decodeLease(text('{"holder":"x","subject":"s","term":1,"expiresAt":1e999,"leaseMs":1}')),
    undefined,
    "an infinite expiry",
  );
  t.equal(
    decodeLease(text('{"holder":"x","subject":"s","term":1e999,"expiresAt":5,"leaseMs":1}')),
    undefined,
    "an infinite term",
  );
  t.match(
    decodeLease(text('{"holder":"x","subject":"s","term":1,"expiresAt":5,"leaseMs":1e999}')),
    { leaseMs: 0 },
    "an infinite lease length counts as none written (the reader's own applies)",
  );
});

t.test("a standby takes a forged lease over once the capped length has passed", async (t) => {
  const clock = new ManualClock();
  const kv = new MemoryKv();
  const stale = await kv.put(leaderKey(ROLE), encodeLease(forged(clock)));
  const b = new Contender(election(t, clock, kv, "b"), clock).start();
  const startedAt = clock.monotonic();
  await clock.advance(MAX_LEASE_MS - LEASE_MS);
  t.equal(b.count("elected"), 0, "the forged lease is honoured up to the cap");
  await clock.advanceUntil(() => b.count("elected") > 0, "b elected", 100, 3 * LEASE_MS);
  const elected = b.events.find((e) => e.kind === "elected")!;
  t.ok(
    elected.at >= startedAt + MAX_LEASE_MS,
    `elected ${elected.at - startedAt} ms after it first saw the lease`,
  );
  t.ok(elected.token! > stale, "by taking the forged lease over");
  t.match(await b.election.leader(), { holder: "b", token: elected.token });
});

t.test("leader() reports a forged lease until the cap after its write, then nobody", async (t) => {
  const clock = new ManualClock();
  const kv = new MemoryKv();
  await kv.put(leaderKey(ROLE), encodeLease(forged(clock)));
  const observer = election(t, clock, kv, "observer");
  const firstSeen = clock.now();
  t.match(
    await observer.leader(),
    { holder: "forger", expiresAt: firstSeen + MAX_LEASE_MS },
    "without a store timestamp, the cap runs from when this reader first saw it",
  );
  await clock.advance(MAX_LEASE_MS);
  t.equal(await observer.leader(), undefined, "nobody leads once the cap has passed");
});

t.test("with the store's write time, the cap runs from the write", async (t) => {
  const clock = new ManualClock();
  const kv = new StampedKv();
  await kv.put(leaderKey(ROLE), encodeLease(forged(clock)));
  kv.writtenAt = clock.now() - MAX_LEASE_MS; // written long before this reader looked
  const observer = election(t, clock, kv, "observer");
  t.equal(await observer.leader(), undefined, "a lease written a cap ago is over");
  kv.writtenAt = clock.now() - 1000;
  const fresh = election(t, clock, kv, "fresh");
  t.match(await fresh.leader(), {
    holder: "forger",
    expiresAt: kv.writtenAt + MAX_LEASE_MS,
  });
});

t.test("a real leader's lease is reported as written", async (t) => {
  const clock = new ManualClock();
  const kv = new MemoryKv();
  const a = new Contender(election(t, clock, kv, "a"), clock).start();
  await clock.advanceUntil(() => a.count("elected") > 0, "a elected", 10, LEASE_MS);
  const written = decodeLease((await kv.get(leaderKey(ROLE)))!.value)!;
  t.match(await election(t, clock, kv, "observer").leader(), {
    holder: "a",
    expiresAt: written.expiresAt,
  });
});
