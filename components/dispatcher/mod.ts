/** Public API of components/dispatcher: the REST front door and the job lifecycle. */
export { type DispatcherApp, dispatcherApp } from "./block.ts";
export { createDispatcher, type Dispatcher, type DispatcherOptions } from "./dispatcher.ts";
export {
  cancelQuery,
  type DispatcherStores,
  type JobRecord,
  type JobResultRecord,
  jobIdParam,
  stopSchema,
  submitSchema,
} from "./types.ts";
