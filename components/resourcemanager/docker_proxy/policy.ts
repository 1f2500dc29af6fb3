/**
 * What the Docker socket proxy lets through: only the Engine API calls the docker driver makes,
 * only on its cluster's containers (forced label filters on lists and events, a label check on
 * each container call), and only create bodies that describe a confined TaskManager container.
 * Pure: the server asks `containerLabels` for a container's labels and does the forwarding.
 */
import { DOCKER_LABELS } from "../drivers/docker.ts";

export interface ProxyPolicyOptions {
  /** Only containers labelled `org.flotilla.cluster=<clusterId>` are reachable. */
  clusterId: string;
  /** The one image containers may be created from (docker.taskmanager-image). */
  image: string;
  /** The one network they may join (docker.network); empty: the daemon's default bridge. */
  network?: string;
}

/** A call as the proxy received it: method, path without the version prefix, query. */
export interface ProxyCall {
  method: string;
  path: string;
  query: URLSearchParams;
}

export type Verdict =
  | {
      allow: true;
      kind: "plain" | "create" | "archive";
      containerId?: string;
      query: URLSearchParams;
    }
  | { allow: false; status: 400 | 403 | 404; message: string };

const refuse = (message: string, status: 400 | 403 = 403): Verdict => ({
  allow: false,
  status,
  message: `flotilla docker proxy: ${message}`,
});

/** Query parameters each call may carry; any other is refused (no `follow` on archives, ...). */
const PER_CONTAINER: Record<string, { method: string; query: string[] }> = {
  json: { method: "GET", query: [] },
  logs: { method: "GET", query: ["stdout", "stderr", "tail", "timestamps"] },
  start: { method: "POST", query: [] },
  stop: { method: "POST", query: ["t"] },
  archive: { method: "PUT", query: ["path", "noOverwriteDirNonDir"] },
};

function onlyQuery(query: URLSearchParams, allowed: string[], what: string): string | undefined {
  for (const name of query.keys()) {
    if (!allowed.includes(name)) return `${what} takes no query parameter '${name}'`;
  }
  return undefined;
}

/** `filters` with the cluster's label (and more) forced in: no other container shows. */
function forcedFilters(
  raw: string | null,
  force: Record<string, string[]>,
): string | { error: string } {
  let filters: Record<string, unknown> = {};
  if (raw) {
    try {
      const parsed: unknown = JSON.parse(raw);
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error();
      filters = parsed as Record<string, unknown>;
    } catch {
      return { error: `filters must be a JSON object, not ${JSON.stringify(raw.slice(0, 80))}` };
    }
  }
  for (const [name, values] of Object.entries(force)) {
    const had = filters[name];
    const list = Array.isArray(had) ? had.map(String) : [];
    filters[name] = [...new Set([...list, ...values])];
  }
  return JSON.stringify(filters);
}

/**
 * The verdict on a call before any container is looked at. A per-container call is allowed
 * only once the server has checked the container's labels (`labelsAllow`).
 */
export function judgeCall(call: ProxyCall, { clusterId }: ProxyPolicyOptions): Verdict {
  const { method, path, query } = call;
  const clusterLabel = `${DOCKER_LABELS.cluster}=${clusterId}`;
  if ((path === "/_ping" && (method === "GET" || method === "HEAD")) || path === "/version") {
    if (method !== "GET" && method !== "HEAD") return refuse(`${method} ${path} is not allowed`);
    return { allow: true, kind: "plain", query: new URLSearchParams() };
  }
  if (method === "GET" && (path === "/containers/json" || path === "/events")) {
    const bad = onlyQuery(
      query,
      path === "/events" ? ["filters", "since", "until"] : ["all", "filters"],
      `GET ${path}`,
    );
    if (bad) return refuse(bad, 400);
    const force: Record<string, string[]> = { label: [clusterLabel] };
    if (path === "/events") force.type = ["container"];
    const filters = forcedFilters(query.get("filters"), force);
    if (typeof filters !== "string") return refuse(filters.error, 400);
    const forced = new URLSearchParams(query);
    forced.set("filters", filters);
    return { allow: true, kind: "plain", query: forced };
  }
  if (path === "/containers/create") {
    if (method !== "POST") return refuse(`${method} ${path} is not allowed`);
    const bad = onlyQuery(query, ["name"], "POST /containers/create");
    if (bad) return refuse(bad, 400);
    const name = query.get("name") ?? "";
    if (!name.startsWith(`flotilla-${clusterId}-`)) {
      return refuse(`a container's name must start with flotilla-${clusterId}-, not '${name}'`);
    }
    return { allow: true, kind: "create", query };
  }
  const m = path.match(/^\/containers\/([A-Za-z0-9][A-Za-z0-9_.-]{0,127})(?:\/([a-z]+))?$/);
  if (m) {
    const [, containerId, action] = m;
    if (!action) {
      if (method !== "DELETE") return refuse(`${method} ${path} is not allowed`);
      const bad = onlyQuery(query, ["force", "v"], "DELETE /containers/{id}");
      if (bad) return refuse(bad, 400);
      return { allow: true, kind: "plain", containerId, query };
    }
    const rule = PER_CONTAINER[action];
    if (!rule || rule.method !== method) return refuse(`${method} ${path} is not allowed`);
    const bad = onlyQuery(query, rule.query, `${method} /containers/{id}/${action}`);
    if (bad) return refuse(bad, 400);
    return { allow: true, kind: action === "archive" ? "archive" : "plain", containerId, query };
  }
  return refuse(
    `${method} ${path} is not allowed: only the calls of flotilla's docker driver are (containers of cluster ${clusterId}, events, ping, version)`,
  );
}

/** Whether a container with `labels` is one of the cluster's TaskManagers. */
export function labelsAllow(
  labels: Record<string, string> | undefined,
  { clusterId }: ProxyPolicyOptions,
): boolean {
  return (
    labels?.[DOCKER_LABELS.cluster] === clusterId && labels[DOCKER_LABELS.role] === "taskmanager"
  );
}
