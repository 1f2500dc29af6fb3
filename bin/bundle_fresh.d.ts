/** Whether dist/flotilla.mjs is newer than package.json and every source file. */
export function bundleIsFresh(): boolean;
