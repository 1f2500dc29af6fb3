/** Public API of components/cluster: fabrics, the embedded MiniCluster and the role entrypoints. */
export { type Fabric, localFabric, natsFabric, type Served } from "./fabric.ts";
export { EXIT_CODES } from "./job_mode.ts";
export { type MiniCluster, type MiniClusterOptions, startMiniCluster } from "./mini_cluster.ts";
export { ROLES, type Role, type RunningRole, startRole } from "./roles.ts";
export { dispatcherStores } from "./stores.ts";
