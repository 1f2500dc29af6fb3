/**
 * TaskManager faults while the sequence-check job runs: kill -9 one, several at once, all of them
 * (new ones started), staggered kills 0-6 s apart, kills back to back, and a network cut.
 *
 * A network cut is a SIGSTOP of the TaskManager here: a process cannot be taken off the network
 * without root and namespaces, and to its peers a stopped process is exactly a partitioned one
 * (no heartbeats, no replies, its connection kept open), then SIGCONT heals it. The container
 * suite would use `docker network disconnect` / `connect` instead.
 */
import t from "tap";
import { faultCluster } from "./support/cluster.ts";
import { FULL, formatRows, type Row, random, runScenario } from "./support/scenario.ts";

t.setTimeout(FULL ? 1_800_000 : 300_000);
const rows: Row[] = [];
t.teardown(() => process.stderr.write(`\n${formatRows(rows)}\n`));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// One cluster for every scenario here (each checks that it left every slot free and exactly
// the live TaskManagers registered); a scenario first tops it up to the TaskManagers it needs.
const cluster = await faultCluster(t, { taskManagers: 4 });
async function atLeast(taskManagers: number): Promise<void> {
  while (cluster.tms.size < taskManagers) cluster.startTaskManager();
  await cluster.waitFor(`${taskManagers} TaskManagers registered`, async () =>
    (await cluster.overview()).taskmanagers >= taskManagers ? true : undefined,
  );
}

t.test("kill -9 one TaskManager", async (t) => {
  await atLeast(3);
  const kills = FULL ? 3 : 1;
  rows.push(
    await runScenario(t, cluster, {
      name: "kill -9 one TM",
      job: { seconds: 5 + 2 * kills },
      async inject({ busyTaskManagers, hit, settle }) {
        for (let i = 0; i < kills; i++) {
          const [victim] = await busyTaskManagers();
          const fault = (await hit(victim!))!;
          cluster.startTaskManager();
          await settle(fault);
        }
      },
    }),
  );
});

t.test("kill -9 several TaskManagers at once", async (t) => {
  await atLeast(FULL ? 6 : 4);
  const rounds = FULL ? 2 : 1;
  rows.push(
    await runScenario(t, cluster, {
      name: "kill -9 several TMs at once",
      job: { seconds: 5 + 2 * rounds },
      async inject({ busyTaskManagers, hit, settle }) {
        for (let i = 0; i < rounds; i++) {
          const victims = (await busyTaskManagers()).slice(0, 2);
          const [fault] = await Promise.all(victims.map((id) => hit(id)));
          for (const _ of victims) cluster.startTaskManager();
          await settle(fault!);
        }
      },
    }),
  );
});

t.test("kill -9 every TaskManager, then start new ones", async (t) => {
  await atLeast(2);
  const rounds = FULL ? 3 : 1;
  rows.push(
    await runScenario(t, cluster, {
      name: "kill -9 all TMs",
      job: { seconds: 5 + 3 * rounds },
      async inject({ hit, settle }) {
        for (let i = 0; i < rounds; i++) {
          const all = [...cluster.tms.keys()];
          const [fault] = await Promise.all(all.map((id) => hit(id)));
          await sleep(500); // the fault itself: no TaskManager anywhere for half a second
          for (const _ of all) cluster.startTaskManager();
          await settle(fault!);
        }
      },
    }),
  );
});

t.test("staggered TaskManager kills, 0-6 s apart", async (t) => {
  await atLeast(3);
  const kills = FULL ? 10 : 3;
  const next = random();
  t.comment(`seed ${next.seed} (FLOTILLA_FAULTS_SEED to repeat)`);
  rows.push(
    await runScenario(t, cluster, {
      name: "staggered TM kills",
      job: { seconds: 5 + 3 * kills },
      async inject({ busyTaskManagers, hit }) {
        for (let i = 0; i < kills; i++) {
          const busy = await busyTaskManagers();
          // Mostly a TaskManager of the job; now and then any (which may be idle).
          const pool = busy.length && next() < 0.8 ? busy : [...cluster.tms.keys()];
          await hit(pool[Math.floor(next() * pool.length)]!);
          cluster.startTaskManager();
          // The point of the scenario: a random gap before the next kill.
          if (i < kills - 1) await sleep(Math.floor(next() * 6000));
        }
      },
    }),
  );
});

t.test("TaskManager kills back to back", async (t) => {
  await atLeast(3);
  const kills = FULL ? 20 : 5;
  rows.push(
    await runScenario(t, cluster, {
      name: `${kills} TM kills back to back`,
      job: { seconds: 6 + kills / 2 },
      async inject({ busyTaskManagers, hit, timeline }) {
        for (let i = 0; i < kills; i++) {
          const [victim] = await busyTaskManagers();
          const fault = (await hit(victim!))!;
          cluster.startTaskManager();
          // The next kill as soon as the job runs again: recovery after recovery.
          await timeline.recovered(fault);
        }
      },
    }),
  );
});

t.test("a TaskManager cut off (SIGSTOP past the heartbeat timeout), then back", async (t) => {
  await atLeast(4);
  const cuts = FULL ? 3 : 1;
  rows.push(
    await runScenario(t, cluster, {
      name: "TM cut off (SIGSTOP)",
      job: { seconds: 5 + 3 * cuts },
      async inject({ busyTaskManagers, hit, settle }) {
        for (let i = 0; i < cuts; i++) {
          const [victim] = await busyTaskManagers();
          const fault = (await hit(victim!, "SIGSTOP"))!;
          await settle(fault);
          await hit(victim!, "SIGCONT");
          // Back: it registers again (its stale slots and tasks must go; the scenario checks).
          await cluster.waitFor(`${victim} registered again`, async () => {
            return (await cluster.taskManagers()).some((tm) => tm.id === victim) ? true : undefined;
          });
        }
      },
    }),
  );
});
