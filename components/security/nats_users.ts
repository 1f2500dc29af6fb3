/**
 * One NATS user per role of a cluster, and the nats-server configuration that names them: each
 * user is an nkey (the server holds only public keys, so its configuration is no secret) whose
 * publish and subscribe allow lists cover that role's subjects, the replies it sends
 * (`allow_responses`), its own reply inbox (`_INBOX_<user>`, so no role reads another's replies)
 * and the JetStream subjects of the HA bucket and object store it needs. Everything else is
 * refused by the server. NATS 2.9 cannot limit which keys a JetStream consumer reads, so roles
 * that read the HA stores read all of them; writes are limited per role.
 *
 * Job code connects as the `job` user, which lives in an account of its own (`JOBS`): its
 * subjects and JetStream streams are its own, and nothing of the cluster's (control subjects, the
 * data plane, the HA bucket and object store, which are in the `FLOTILLA` account) is visible
 * from it at all; a stream cannot even source one across accounts.
 */
import { BlockRole, blobBucketName, kvBucketName, leaderKey, subjects } from "../core/mod.ts";

/** The NATS users of a cluster: a role process, the elastic layout's node, the CLI. */
export const NATS_USERS = [
  "master",
  "dispatcher",
  "resourcemanager",
  "jobmanager",
  "taskmanager",
  "node",
  "cli",
  "job",
] as const;
export type NatsUser = (typeof NATS_USERS)[number];

export interface NatsPermissions {
  publish: string[];
  subscribe: string[];
}

/** The account of the cluster's own users, and the account of job code (`job`). */
export const NATS_ACCOUNTS = { cluster: "FLOTILLA", jobs: "JOBS" } as const;

/** `_INBOX_<user>`: where a user's requests get their replies (config `nats.inbox-prefix`). */
export const inboxPrefixOf = (user: NatsUser): string => `_INBOX_${user}`;

/** JetStream API subjects that open, read and watch one stream (and write through it). */
function streamAccess(stream: string): string[] {
  return [
    `$JS.API.STREAM.CREATE.${stream}`,
    `$JS.API.STREAM.INFO.${stream}`,
    `$JS.API.STREAM.MSG.GET.${stream}`,
    `$JS.API.DIRECT.GET.${stream}`,
    `$JS.API.DIRECT.GET.${stream}.>`,
    `$JS.API.CONSUMER.CREATE.${stream}`,
    `$JS.API.CONSUMER.CREATE.${stream}.>`,
    `$JS.API.CONSUMER.DELETE.${stream}.>`,
    `$JS.API.CONSUMER.INFO.${stream}.>`,
    `$JS.FC.${stream}.>`,
  ];
}

/** What each part of a cluster's wire a user may publish to and subscribe to. */
export function natsPermissions(user: NatsUser, clusterId: string): NatsPermissions {
  const kv = kvBucketName(clusterId);
  const blobs = blobBucketName(clusterId);
  const dispatcher = subjects.dispatcher(clusterId);
  const resourceManager = subjects.resourceManager(clusterId);
  const jobManagers = `${subjects.cluster(clusterId)}.${BlockRole.JOB_MANAGER}.>`;
  const taskManagers = `${subjects.cluster(clusterId)}.${BlockRole.TASK_MANAGER}.>`;
  const data = `${subjects.cluster(clusterId)}.data.>`;
  const ha = ["$JS.API.INFO", ...streamAccess(`KV_${kv}`), ...streamAccess(`OBJ_${blobs}`)];
  // Writes, deletes, and purges of one key's subject (`forget`: records leave no delete marker).
  const kvWrites = [`$KV.${kv}.>`, `$JS.API.STREAM.PURGE.KV_${kv}`];
  const blobWrites = [`$O.${blobs}.C.>`, `$O.${blobs}.M.>`, `$JS.API.STREAM.PURGE.OBJ_${blobs}`];
  const inbox = `${inboxPrefixOf(user)}.>`;
  const roles: Record<NatsUser, NatsPermissions> = {
    // The Dispatcher with its JobManagers: jobs, artifacts, checkpoints, leases.
    dispatcher: {
      publish: [resourceManager, taskManagers, jobManagers, ...ha, ...kvWrites, ...blobWrites],
      subscribe: [dispatcher, jobManagers, inbox],
    },
    // Its lease only, of the HA bucket; no job records, artifacts or data.
    resourcemanager: {
      publish: [
        taskManagers,
        jobManagers,
        ...ha,
        `$KV.${kv}.${leaderKey(BlockRole.RESOURCE_MANAGER)}`,
      ],
      subscribe: [resourceManager, inbox],
    },
    // Job mode: one JobManager and the ResourceManager in one process.
    jobmanager: {
      publish: [resourceManager, taskManagers, jobManagers, ...ha, ...kvWrites, ...blobWrites],
      subscribe: [resourceManager, jobManagers, inbox],
    },
    // Its own calls and the data plane; artifacts read, snapshots written; no lease, no job record.
    taskmanager: {
      publish: [resourceManager, jobManagers, data, ...ha, ...blobWrites.slice(0, 2)],
      subscribe: [taskManagers, data, inbox],
    },
    master: { publish: [], subscribe: [] },
    node: { publish: [], subscribe: [] },
    // The Dispatcher's API over NATS (flotilla --cluster nats://...), nothing else.
    cli: { publish: [dispatcher], subscribe: [inbox] },
    // Alone in the JOBS account: everything there, nothing of the cluster's (see top).
    job: { publish: [">"], subscribe: [">"] },
  };
  const union = (...users: NatsUser[]): NatsPermissions => ({
    publish: [...new Set(users.flatMap((u) => roles[u].publish))],
    subscribe: [...new Set([...users.flatMap((u) => roles[u].subscribe), inbox])].filter(
      (s) => !s.startsWith("_INBOX_") || s === inbox,
    ),
  });
  // The standalone master runs the Dispatcher and the ResourceManager; an elastic node can become
  // the master or run a TaskManager.
  roles.master = union("dispatcher", "resourcemanager");
  roles.node = union("dispatcher", "resourcemanager", "taskmanager");
  return roles[user];
}

/**
 * The `accounts` block of a nats-server configuration for `clusterId`: the cluster's users by
 * their nkeys' public keys with their permissions in the `FLOTILLA` account, and the `job` user
 * alone in `JOBS`. Both accounts have JetStream. Anonymous clients are refused.
 */
export function natsAuthConfig(
  clusterId: string,
  publicKeys: Partial<Record<NatsUser, string>>,
): string {
  const entry = (user: NatsUser) => {
    const { publish, subscribe } = natsPermissions(user, clusterId);
    return [
      `        # ${user}`,
      "        {",
      `          nkey: ${JSON.stringify(publicKeys[user])}`,
      "          permissions: {",
      `            publish: { allow: ${JSON.stringify(publish)} }`,
      `            subscribe: { allow: ${JSON.stringify(subscribe)} }`,
      "            allow_responses: true",
      "          }",
      "        }",
    ].join("\n");
  };
  const users = (which: readonly NatsUser[]) =>
    which
      .filter((user) => publicKeys[user])
      .map(entry)
      .join("\n");
  return [
    `# NATS users of flotilla cluster '${clusterId}', one per role (made by flotilla cluster secrets).`,
    "# Public keys only: the seeds are each role's nats-<role>.nk. Job code is the job user, in an",
    "# account of its own: it sees none of the cluster's subjects or streams.",
    "accounts {",
    `  ${NATS_ACCOUNTS.cluster}: {`,
    "    jetstream: enabled",
    "    users: [",
    users(NATS_USERS.filter((u) => u !== "job")),
    "    ]",
    "  }",
    `  ${NATS_ACCOUNTS.jobs}: {`,
    "    jetstream: enabled",
    "    users: [",
    users(["job"]),
    "    ]",
    "  }",
    "}",
    "",
  ].join("\n");
}
