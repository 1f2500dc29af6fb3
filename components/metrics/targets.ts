/**
 * Prometheus' HTTP service discovery of the TaskManagers a driver started (their containers'
 * names on its network): the ResourceManager's health port answers `/metrics/targets` with them,
 * so Prometheus finds TaskManagers that come and go without reaching the Docker API itself.
 */

/** A TaskManager a driver runs, by the host name its network resolves. */
export interface ScrapeHost {
  tmId: string;
  host: string;
}

/** Prometheus' http_sd_configs body: groups of targets with their labels. */
export type HttpSdGroups = { targets: string[]; labels: Record<string, string> }[];

/** TaskManagers listed at most (a driver's cap is far below). */
export const MAX_SCRAPE_TARGETS = 4096;

let hosts: (() => ScrapeHost[]) | undefined;

/** Lists what `source` returns until the returned function is called (the RM's leadership). */
export function trackScrapeTargets(source: () => ScrapeHost[]): () => void {
  hosts = source;
  return () => {
    if (hosts === source) hosts = undefined;
  };
}

/** The TaskManagers to scrape, each at `port` (the images' health port, the same for all). */
export function scrapeTargets(port: number): HttpSdGroups {
  return (hosts?.() ?? []).slice(0, MAX_SCRAPE_TARGETS).map(({ tmId, host }) => ({
    targets: [`${host}:${port}`],
    labels: { tm_id: tmId, flotilla_role: "taskmanager" },
  }));
}
