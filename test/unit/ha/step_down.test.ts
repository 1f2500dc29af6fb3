/**
 * The election's safety on a store that misbehaves for one contender only (the memory store behind
 * a wrapper): a leader that cannot renew steps down before its lease ends and before anyone else
 * is elected; a renewal whose acknowledgement was lost does not cost the leadership.
 */
import { setTimeout as sleep } from "node:timers/promises";
import t, { type Test } from "tap";
import { ErrorCode, UnavailableError } from "../../../components/core/mod.ts";
import type { HaKv, KvCallOptions, KvChange } from "../../../components/ha/kv.ts";
import { LeaseElection } from "../../../components/ha/lease_election.ts";
import { MemoryKv } from "../../../components/ha/memory_kv.ts";
import { Contender, firstElected } from "./contender.ts";

const LEASE_MS = 1000;
const RENEW_MS = 200;

/** Passes calls through, except: while paused every call hangs; `dropNextAck` loses one reply. */
class FaultyKv implements HaKv {
  readonly location = "faulty memory";
  paused = false;
  dropNextAck = false;
  #resume: Array<() => void> = [];
  readonly #inner: HaKv;

  constructor(inner: HaKv) {
    this.#inner = inner;
  }

  resume(): void {
    this.paused = false;
    for (const go of this.#resume.splice(0)) go();
  }

  async #gate(): Promise<void> {
    if (this.paused) await new Promise<void>((resolve) => this.#resume.push(resolve));
  }

  async get(key: string, o?: KvCallOptions) {
    await this.#gate();
    return this.#inner.get(key, o);
  }
  async put(key: string, value: Uint8Array, o?: KvCallOptions) {
    await this.#gate();
    return this.#inner.put(key, value, o);
  }
  async create(key: string, value: Uint8Array, o?: KvCallOptions) {
    await this.#gate();
    return this.#inner.create(key, value, o);
  }
  async update(key: string, value: Uint8Array, revision: number, o?: KvCallOptions) {
    await this.#gate();
    const written = await this.#inner.update(key, value, revision, o);
    if (this.dropNextAck) {
      this.dropNextAck = false;
      throw new UnavailableError("the reply was lost (test)");
    }
    return written;
  }
  async delete(key: string, o?: KvCallOptions & { revision?: number }) {
    await this.#gate();
    return this.#inner.delete(key, o);
  }
  async keys(prefix: string, o?: KvCallOptions) {
    await this.#gate();
    return this.#inner.keys(prefix, o);
  }
  watch(key: string, onChange: (change: KvChange) => void) {
    return this.#inner.watch(key, (change) => {
      if (!this.paused) onChange(change);
    });
  }
}

function contender(t: Test, kv: HaKv, holder: string): Contender {
  const election = new LeaseElection(kv, {
    role: "rm",
    holder,
    leaseMs: LEASE_MS,
    renewMs: RENEW_MS,
  });
  t.teardown(() => election.stop());
  return new Contender(election);
}

t.test(
  "a leader that cannot renew steps down before its lease ends and before a successor",
  async (t) => {
    const shared = new MemoryKv();
    const faulty = new FaultyKv(shared);
    const a = contender(t, faulty, "a").start();
    await firstElected([a], 2000);
    const b = contender(t, shared, "b").start();
    await sleep(RENEW_MS * 2);

    const pausedAt = performance.now();
    faulty.paused = true; // a's renewals hang from now on; b still sees the store
    const revoked = await a.next("revoked", LEASE_MS * 2);
    const elected = await b.next("elected", LEASE_MS * 3);
    t.ok(
      revoked.at < pausedAt + LEASE_MS,
      `stepped down ${Math.round(revoked.at - pausedAt)} ms after the store went away, within the ${LEASE_MS} ms lease`,
    );
    t.ok(revoked.at > pausedAt + LEASE_MS - RENEW_MS * 2, "not long before it had to");
    t.match(revoked.reason, /could not renew the lease of rm within 1000 ms/);
    t.notOk(revoked.isLeaderInside);
    t.ok(
      elected.at > revoked.at,
      "the successor was elected only after the old leader stepped down",
    );
    t.ok(elected.token! > a.events[0]!.token!, "with a higher token");

    faulty.resume(); // a's hung renewal now lands on b's lease and fails; a stays a standby
    await sleep(RENEW_MS * 3);
    t.notOk(a.election.isLeader());
    t.ok(b.election.isLeader());
    t.equal(b.count("revoked"), 0);
  },
);

t.test("the hung renewal that lands after stepping down is released at once", async (t) => {
  const shared = new MemoryKv();
  const faulty = new FaultyKv(shared);
  const a = contender(t, faulty, "a").start();
  await firstElected([a], 2000);
  faulty.paused = true;
  await a.next("revoked", LEASE_MS * 2);
  // a's renewal still hangs; when it lands it extends a lease a no longer uses, so a deletes it.
  const b = contender(t, shared, "b").start();
  const resumedAt = performance.now();
  faulty.resume();
  const elected = await firstElected([a, b], LEASE_MS * 3);
  t.ok(
    elected.at - resumedAt < LEASE_MS / 2,
    `a new leader ${Math.round(elected.at - resumedAt)} ms later, without waiting out that lease`,
  );
  t.ok(elected.token > a.events[0]!.token!, "a new term, not the released one");
});

t.test("a renewal whose reply was lost does not cost the leadership", async (t) => {
  const faulty = new FaultyKv(new MemoryKv());
  const a = contender(t, faulty, "a").start();
  const { token } = await firstElected([a], 2000);
  faulty.dropNextAck = true; // the write lands, the reply does not
  await sleep(RENEW_MS * 6);
  t.equal(a.count("revoked"), 0, "never stepped down");
  t.ok(a.election.isLeader());
  t.equal(a.election.token(), token, "the same term");
  t.notOk(faulty.dropNextAck, "a reply was really dropped");
});

/** Holds the first writes until `parties` of them are waiting, lets them go at once, then opens. */
class WriteBarrier {
  #waiting: Array<() => void> = [];
  #open = false;
  constructor(readonly parties: number) {}
  async arrive(): Promise<void> {
    if (this.#open) return;
    await new Promise<void>((resolve) => {
      this.#waiting.push(resolve);
      if (this.#waiting.length < this.parties) return;
      this.#open = true;
      for (const go of this.#waiting.splice(0)) go();
    });
  }
}

class RacingKv extends FaultyKv {
  readonly #barrier: WriteBarrier;
  constructor(inner: HaKv, barrier: WriteBarrier) {
    super(inner);
    this.#barrier = barrier;
  }
  override async put(key: string, value: Uint8Array, o?: KvCallOptions) {
    await this.#barrier.arrive();
    return super.put(key, value, o);
  }
  override async create(key: string, value: Uint8Array, o?: KvCallOptions) {
    await this.#barrier.arrive();
    return super.create(key, value, o);
  }
  override async update(key: string, value: Uint8Array, revision: number, o?: KvCallOptions) {
    await this.#barrier.arrive();
    return super.update(key, value, revision, o);
  }
}

t.test("two standbys take over the same stale lease at once: exactly one wins", async (t) => {
  const shared = new MemoryKv();
  const ghost = { holder: "ghost", subject: "", term: 7, expiresAt: Date.now() - 1, leaseMs: 100 };
  const stale = await shared.put("leader.rm", new TextEncoder().encode(JSON.stringify(ghost)));
  const barrier = new WriteBarrier(2); // both claims are in flight before either lands
  const b = contender(t, new RacingKv(shared, barrier), "b").start();
  const c = contender(t, new RacingKv(shared, barrier), "c").start();
  const { leader, token } = await firstElected([b, c], LEASE_MS * 3);
  await sleep(RENEW_MS * 2);
  t.equal(b.count("elected") + c.count("elected"), 1, `only ${leader.holder} took over`);
  t.ok(token > stale);
  t.match(await leader.election.leader(), { holder: leader.holder, term: 8, token });
});

t.test("options are checked", async (t) => {
  const kv = new MemoryKv();
  t.throws(() => new LeaseElection(kv, { role: "rm", holder: "a", leaseMs: 1000, renewMs: 950 }), {
    code: ErrorCode.INVALID_ARGUMENT,
    message: /renewMs \(950\) must be positive and under 90% of leaseMs \(1000\)/,
  });
  t.throws(() => new LeaseElection(kv, { role: "", holder: "a" }), {
    code: ErrorCode.INVALID_ARGUMENT,
  });
  const election = new LeaseElection(kv, { role: "rm", holder: "a" });
  election.start({ onElected() {}, onRevoked() {} });
  t.throws(() => election.start({ onElected() {}, onRevoked() {} }), { code: ErrorCode.CONFLICT });
  await election.stop();
});
