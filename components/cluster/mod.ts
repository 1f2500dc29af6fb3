/** Public API of components/cluster: fabrics, the embedded MiniCluster and the role entrypoints. */
export { type Fabric, localFabric, natsFabric, type Served } from "./fabric.ts";
export { type MiniCluster, type MiniClusterOptions, startMiniCluster } from "./mini_cluster.ts";
export { dispatcherStores } from "./stores.ts";
