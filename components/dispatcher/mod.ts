/** Public API of components/dispatcher: the REST front door and the jobs' JobManagers. */
export { createDispatcher, type Dispatcher, type DispatcherOptions } from "./dispatcher.ts";
export {
  type GraphBuilder,
  type GraphBuildRequest,
  graphBuilderFrom,
  inProcessGraphBuilder,
  sandboxedGraphBuilder,
} from "./graph_builder.ts";
export { type DispatcherAppOptions, dispatcherApp, dispatcherHandlers } from "./handlers.ts";
export {
  ATTEMPTS_PER_TERM,
  firstAttemptOfTerm,
  savepointDeadlines,
} from "./job_managers.ts";
export type {
  DispatcherStores,
  JobManagerFabric,
  JobRecord,
  JobResultRecord,
  Serving,
} from "./types.ts";
